//! The home page: experiments with search, create, rename, delete and restore.

use std::fmt::Write;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use rivulet_api::AppState;
use rivulet_core::page::decode_offset_token;
use rivulet_core::search::{Comparator, ExperimentClause, ExperimentKey, ExperimentOrderBy, FilterValue};
use rivulet_core::store::ExperimentSearch;
use rivulet_core::tracking::validation::{validate_experiment_name, validate_new_experiment};
use rivulet_core::tracking::{LifecycleStage, NewExperiment, ViewType};
use serde::Deserialize;

use crate::html::{self, esc, query, Crumb, Ctx};
use crate::{ctx, form, forbidden_cross_site, same_origin, see_other, OrPage, PageResult};

const PAGE_SIZE: usize = 50;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    view: String,
    #[serde(default)]
    page: String,
    /// A message from a failed form post, shown once.
    #[serde(default)]
    error: String,
    #[serde(default)]
    done: String,
}

pub async fn list(State(state): State<AppState>, headers: HeaderMap, Query(params): Query<ListQuery>) -> PageResult {
    let ctx = ctx(&state, &headers);
    let view_type = match params.view.as_str() {
        "deleted" => ViewType::DeletedOnly,
        "all" => ViewType::All,
        _ => ViewType::ActiveOnly,
    };
    let mut filter = Vec::new();
    if !params.q.trim().is_empty() {
        filter.push(ExperimentClause {
            key: ExperimentKey::Name,
            comparator: Comparator::ILike,
            value: FilterValue::Text(format!("%{}%", params.q.trim())),
        });
    }
    let offset = decode_offset_token(Some(&params.page)).or_page(&ctx)?;
    let search = ExperimentSearch {
        filter,
        order_by: vec![ExperimentOrderBy { key: ExperimentKey::LastUpdateTime, ascending: false }],
        view_type,
        max_results: PAGE_SIZE,
        offset,
    };
    let page = state.tracking.search_experiments(&search).await.or_page(&ctx)?;

    let mut body = String::new();
    body.push_str("<div class=\"head\"><h1>Experiments</h1></div>");
    if !params.error.is_empty() {
        body.push_str(&html::notice("error", &params.error));
    }
    if !params.done.is_empty() {
        body.push_str(&html::notice("ok", &params.done));
    }
    let _ = write!(
        body,
        "<div class=\"toolbar\"><form method=\"get\" action=\"{home}\" role=\"search\">\
         <label class=\"sr\" for=\"q\">Search experiments</label>\
         <input id=\"q\" name=\"q\" type=\"search\" placeholder=\"Search by name\" value=\"{q}\" data-search>\
         <select name=\"view\" aria-label=\"Lifecycle\">{views}</select><button>Search</button></form>\
         <form method=\"post\" action=\"{create}\" class=\"create\"><label class=\"sr\" for=\"new-name\">New experiment name</label>\
         <input id=\"new-name\" name=\"name\" placeholder=\"New experiment name\" required><button>Create experiment</button></form></div>",
        home = esc(&ctx.url("/")),
        q = esc(&params.q),
        views = options(&[("", "Active"), ("deleted", "Deleted"), ("all", "All")], &params.view),
        create = esc(&ctx.url("/ui/experiments")),
    );
    if page.items.is_empty() {
        body.push_str("<section class=\"empty\"><h2>No experiments match</h2><p>Clear the search, or create one above. \
            Traces sent without an experiment id land in the server's default trace experiment.</p></section>");
    } else {
        body.push_str("<table class=\"grid\" data-rows><thead><tr><th>Name</th><th>ID</th><th>Created</th><th>Last updated</th><th><span class=\"sr\">Actions</span></th></tr></thead><tbody>");
        for experiment in &page.items {
            let href = ctx.url(&format!("/ui/experiments/{}", experiment.experiment_id));
            let deleted = experiment.lifecycle_stage == LifecycleStage::Deleted;
            let _ = write!(
                body,
                "<tr{cls}><td><a href=\"{href}\">{name}</a>{badge}</td><td class=\"mono\">{id}</td><td>{created}</td><td>{updated}</td><td class=\"actions\">{actions}</td></tr>",
                cls = if deleted { " class=\"deleted\"" } else { "" },
                href = esc(&href),
                name = esc(&experiment.name),
                badge = if deleted { " <span class=\"badge\">deleted</span>" } else { "" },
                id = experiment.experiment_id,
                created = experiment.creation_time.map(html::time).unwrap_or_default(),
                updated = experiment.last_update_time.map(html::time).unwrap_or_default(),
                actions = actions(&ctx, experiment.experiment_id, &experiment.name, deleted),
            );
        }
        body.push_str("</tbody></table>");
    }
    if let Some(token) = &page.next_page_token {
        let next = query(&[("q", &params.q), ("view", &params.view), ("page", token)]);
        let _ = write!(body, "<nav class=\"pager\"><a href=\"{}\">Next page →</a></nav>", esc(&ctx.url(&format!("/{next}"))));
    } else if offset > 0 {
        let first = query(&[("q", &params.q), ("view", &params.view)]);
        let _ = write!(body, "<nav class=\"pager\"><a href=\"{}\">← First page</a></nav>", esc(&ctx.url(&format!("/{first}"))));
    }
    Ok(html::page(&ctx, "Experiments", &[Crumb::text("Experiments")], &body))
}

fn options(choices: &[(&str, &str)], selected: &str) -> String {
    choices
        .iter()
        .map(|(value, label)| {
            let sel = if *value == selected { " selected" } else { "" };
            format!("<option value=\"{}\"{sel}>{}</option>", esc(value), esc(label))
        })
        .collect()
}

fn actions(ctx: &Ctx, experiment_id: i64, name: &str, deleted: bool) -> String {
    let base = format!("/ui/experiments/{experiment_id}");
    if deleted {
        return format!(
            "<form method=\"post\" action=\"{}\"><button class=\"small\">Restore</button></form>",
            esc(&ctx.url(&format!("{base}/restore")))
        );
    }
    format!(
        "<details class=\"inline\"><summary>Rename</summary><form method=\"post\" action=\"{rename}\">\
         <label class=\"sr\" for=\"rename-{experiment_id}\">New name</label>\
         <input id=\"rename-{experiment_id}\" name=\"name\" value=\"{name}\" required><button class=\"small\">Save</button></form></details>\
         <form method=\"post\" action=\"{delete}\" data-confirm=\"Delete experiment '{name}'? It can be restored later.\">\
         <button class=\"small danger\">Delete</button></form>",
        rename = esc(&ctx.url(&format!("{base}/rename"))),
        delete = esc(&ctx.url(&format!("{base}/delete"))),
        name = esc(name),
    )
}

fn back_with(ctx: &Ctx, key: &str, message: &str) -> Response {
    see_other(&ctx.url(&format!("/{}", query(&[(key, message)]))))
}

pub async fn create(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> PageResult {
    let ctx = ctx(&state, &headers);
    if !same_origin(&headers) {
        return Err(forbidden_cross_site(&ctx));
    }
    let fields = form(&body);
    let experiment = NewExperiment {
        name: fields.get("name").map(|n| n.trim().to_string()).unwrap_or_default(),
        artifact_location: None,
        tags: Vec::new(),
    };
    if let Err(error) = validate_new_experiment(&experiment) {
        return Ok(back_with(&ctx, "error", &error.message));
    }
    match state.tracking.create_experiment(experiment).await {
        Ok(id) => Ok(see_other(&ctx.url(&format!("/ui/experiments/{id}/traces")))),
        Err(error) => Ok(back_with(&ctx, "error", &error.message)),
    }
}

pub async fn open(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let ctx = ctx(&state, &headers);
    see_other(&ctx.url(&format!("/ui/experiments/{id}/traces")))
}

pub async fn rename(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<i64>, body: Bytes) -> PageResult {
    let ctx = ctx(&state, &headers);
    if !same_origin(&headers) {
        return Err(forbidden_cross_site(&ctx));
    }
    let name = form(&body).get("name").map(|n| n.trim().to_string()).unwrap_or_default();
    if let Err(error) = validate_experiment_name(&name) {
        return Ok(back_with(&ctx, "error", &error.message));
    }
    Ok(match state.tracking.rename_experiment(id, &name).await {
        Ok(()) => back_with(&ctx, "done", &format!("Renamed experiment {id} to '{name}'.")),
        Err(error) => back_with(&ctx, "error", &error.message),
    })
}

pub async fn delete(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<i64>) -> PageResult {
    let ctx = ctx(&state, &headers);
    if !same_origin(&headers) {
        return Err(forbidden_cross_site(&ctx));
    }
    Ok(match state.tracking.delete_experiment(id).await {
        Ok(()) => back_with(&ctx, "done", &format!("Deleted experiment {id}. Find it under 'Deleted' to restore it.")),
        Err(error) => back_with(&ctx, "error", &error.message),
    })
}

pub async fn restore(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<i64>) -> PageResult {
    let ctx = ctx(&state, &headers);
    if !same_origin(&headers) {
        return Err(forbidden_cross_site(&ctx));
    }
    Ok(match state.tracking.restore_experiment(id).await {
        Ok(()) => back_with(&ctx, "done", &format!("Restored experiment {id}.")),
        Err(error) => back_with(&ctx, "error", &error.message),
    })
}

/// Reads the experiment a page is about, or answers with a not-found page.
pub(crate) async fn load(state: &AppState, ctx: &Ctx, experiment_id: i64) -> Result<rivulet_core::tracking::Experiment, Response> {
    state.tracking.get_experiment(experiment_id).await.or_page(ctx)
}

/// The experiment page's title block and tabs.
pub(crate) fn head(ctx: &Ctx, experiment: &rivulet_core::tracking::Experiment, tab: &str) -> String {
    let deleted = if experiment.lifecycle_stage == LifecycleStage::Deleted {
        " <span class=\"badge\">deleted</span>"
    } else {
        ""
    };
    format!(
        "<div class=\"head\"><h1>{name}{deleted}</h1><span class=\"muted\">Experiment <span class=\"mono\">{id}</span> {copy}</span></div>{tabs}",
        name = esc(&experiment.name),
        id = experiment.experiment_id,
        copy = html::copy_button(&experiment.experiment_id.to_string(), "experiment id"),
        tabs = html::experiment_tabs(ctx, experiment.experiment_id, tab),
    )
}

/// Breadcrumbs down to an experiment tab.
pub(crate) fn crumbs(ctx: &Ctx, experiment: &rivulet_core::tracking::Experiment, tab: &str) -> Vec<Crumb> {
    vec![
        Crumb::link("Experiments", ctx.url("/")),
        Crumb::link(experiment.name.clone(), ctx.url(&format!("/ui/experiments/{}", experiment.experiment_id))),
        Crumb::text(tab),
    ]
}
