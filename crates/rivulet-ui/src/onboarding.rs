//! Empty states that tell a first-time user exactly how to send traces here: the Collector's
//! exporter block, the OpenTelemetry SDK variables and the MLflow client calls, filled in with
//! this server's address and the experiment id.

use crate::html::{copy_button, esc, Ctx};

fn snippet(title: &str, text: &str) -> String {
    format!(
        "<div class=\"snippet\"><div class=\"snippet-head\"><h3>{}</h3>{}</div><pre><code>{}</code></pre></div>",
        esc(title),
        copy_button(text, title),
        esc(text)
    )
}

/// The Traces tab of an experiment without traces.
pub fn first_trace(ctx: &Ctx, experiment_id: i64) -> String {
    let base = ctx.public_base();
    let collector = format!(
        "exporters:\n  otlphttp/rivulet:\n    # the base URL: the exporter appends /v1/traces\n    endpoint: {base}\n    headers:\n      x-mlflow-experiment-id: \"{experiment_id}\"\n\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [batch]\n      exporters: [otlphttp/rivulet]"
    );
    let sdk = format!(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT={base}/v1/traces\nOTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf\nOTEL_EXPORTER_OTLP_TRACES_HEADERS=x-mlflow-experiment-id={experiment_id}\nOTEL_SERVICE_NAME=my-agent"
    );
    let mlflow = format!(
        "import mlflow\n\nmlflow.set_tracking_uri(\"{base}\")\nmlflow.set_experiment(experiment_id=\"{experiment_id}\")\nmlflow.openai.autolog()  # or decorate your own functions with @mlflow.trace\n\n@mlflow.trace\ndef answer(question: str) -> str:\n    return \"...\""
    );
    format!(
        "<section class=\"empty onboarding\"><h2>No traces yet</h2>\
         <p>Send OpenTelemetry traces to <code>{endpoint}</code> (OTLP over HTTP, protobuf or JSON) with the header \
         <code>x-mlflow-experiment-id: {experiment_id}</code>. Pick whichever fits your setup; traces appear here within a second.</p>\
         <div class=\"snippets\">{collector}{sdk}{mlflow}</div>\
         <p class=\"muted\">Session and user columns fill in when spans carry <code>session.id</code> (or <code>gen_ai.conversation.id</code>) \
         and <code>user.id</code>; the service graph needs each process to set <code>service.name</code>.</p></section>",
        endpoint = esc(&format!("{base}/v1/traces")),
        collector = snippet("OpenTelemetry Collector (otlphttp exporter)", &collector),
        sdk = snippet("Any OpenTelemetry SDK (environment)", &sdk),
        mlflow = snippet("MLflow Python client", &mlflow),
    )
}
