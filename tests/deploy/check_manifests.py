#!/usr/bin/env python3
"""Policy checks over rendered Kustomize output (deploy/kubernetes), beyond schema validity.

Usage: check_manifests.py --crds DIR NAME=RENDERED.yaml [NAME=RENDERED.yaml ...]
       check_manifests.py --server-env RENDERED.yaml   (print the Rivulet ConfigMap as KEY=VALUE lines)
       check_manifests.py --collector-headers RENDERED.yaml   (print the Rivulet exporter's headers)

NAME is the overlay's directory name (or `base`); a few expectations are per overlay, the rest
apply to every rendered output. Exits 1 if any check fails. Needs PyYAML and jsonschema (both
come with kubernetes-validate).
"""

import argparse
import copy
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import yaml

PROBE_SPAN_NAMES = {"GET /v1/models", "GET /.well-known/agent.json", "GET /.well-known/agent-card.json"}
EXPERIMENT_NAME = "llamastack-traces"

# Kinds each rendered output must contain (kind, name); guards against a component dropped by mistake.
EXPECTED = {
    "base": {("Deployment", "mlflow"), ("Service", "mlflow"), ("PersistentVolumeClaim", "mlflow-artifacts-pvc"),
             ("PodDisruptionBudget", "mlflow")},
    "catalyst-lab": {("Deployment", "mlflow"), ("Service", "mlflow"), ("PersistentVolumeClaim", "mlflow-artifacts-pvc"),
                     ("PodDisruptionBudget", "mlflow"), ("Ingress", "mlflow"), ("Database", "mlflow"),
                     ("Deployment", "otel-collector"), ("Service", "otel-collector"), ("ServiceMonitor", "mlflow"),
                     ("NetworkPolicy", "mlflow")},
    "s3-replicas": {("Deployment", "mlflow"), ("Service", "mlflow"), ("Job", "mlflow-db-upgrade"),
                    ("PodDisruptionBudget", "mlflow"), ("Database", "mlflow"), ("ServiceMonitor", "mlflow"),
                    ("NetworkPolicy", "mlflow")},
}
EXPECTED["catalyst-lab-fanout"] = EXPECTED["catalyst-lab"]
EXPECTED["migrate-from-mlflow"] = {("Job", "mlflow-schema-upgrade"), ("Job", "mlflow-artifacts-chown")}
ROOT_ANNOTATION = "deploy.rivulet/runs-as-root"
ROOT_ALLOWED = {"migrate-from-mlflow"}
# Kinds that must be absent.
ABSENT = {"s3-replicas": {"PersistentVolumeClaim"}}
NAMESPACE = {"migrate-from-mlflow": "catalystlab-shared", "catalyst-lab": "catalystlab-shared", "catalyst-lab-fanout": "catalystlab-shared", "s3-replicas": "rivulet"}


class Report:
    def __init__(self):
        self.failures = 0
        self.passes = 0

    def check(self, target, ok, what, detail=""):
        if ok:
            self.passes += 1
            print(f"  ok    {target}: {what}")
        else:
            self.failures += 1
            print(f"  FAIL  {target}: {what}" + (f" -- {detail}" if detail else ""))
        return ok


def load(path):
    return [doc for doc in yaml.safe_load_all(Path(path).read_text()) if doc]


def find(docs, kind, name=None):
    return [d for d in docs if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name)]


def pod_spec(workload):
    return workload["spec"]["template"]["spec"]


def containers(workload):
    spec = pod_spec(workload)
    return spec.get("initContainers", []) + spec["containers"]


def is_rivulet(container):
    """A container running Rivulet's image (any registry, tag or digest)."""
    return container["image"].split("@")[0].rsplit("/", 1)[-1].split(":")[0] == "rivulet"


def workloads(docs):
    return find(docs, "Deployment") + find(docs, "Job") + find(docs, "StatefulSet") + find(docs, "DaemonSet")


def config_maps_of(container, docs):
    names = [e["configMapRef"]["name"] for e in container.get("envFrom", []) if "configMapRef" in e]
    return [cm for cm in find(docs, "ConfigMap") if cm["metadata"]["name"] in names]


def container_env(container, docs):
    """Environment as the container sees it: ConfigMaps from envFrom, then env (env wins)."""
    env = {}
    for cm in config_maps_of(container, docs):
        env.update(cm.get("data", {}))
    for var in container.get("env", []):
        env[var["name"]] = var.get("value", var.get("valueFrom"))
    return env


def mebibytes(quantity):
    """A Kubernetes memory quantity in MiB (0 when absent)."""
    if quantity is None:
        return 0
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024 ** 2, "k": 1e3 / 1024 ** 2, "M": 1e6 / 1024 ** 2, "G": 1e9 / 1024 ** 2}
    text = str(quantity)
    for suffix in sorted(units, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * units[suffix]
    return float(text) / 1024 ** 2


def labels_match(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------

def check_inventory(r, target, docs):
    present = {(d["kind"], d["metadata"]["name"]) for d in docs}
    missing = EXPECTED.get(target, set()) - present
    r.check(target, not missing, "contains the expected resources", f"missing {sorted(missing)}")
    absent = {d["kind"] for d in docs} & ABSENT.get(target, set())
    r.check(target, not absent, "contains no resources of excluded kinds", f"found {sorted(absent)}")
    if target in NAMESPACE:
        wrong = [f"{d['kind']}/{d['metadata']['name']}" for d in docs if d["metadata"].get("namespace") != NAMESPACE[target]]
        r.check(target, not wrong, f"every resource is in namespace {NAMESPACE[target]}", f"{wrong}")
    secrets = [d["metadata"]["name"] for d in find(docs, "Secret")]
    r.check(target, not secrets, "ships no Secret (credentials are referenced, never committed)", f"{secrets}")


def check_store_uri(r, target, docs):
    defs = [(cm["metadata"]["name"], cm["data"]["MLFLOW_BACKEND_STORE_URI"]) for cm in find(docs, "ConfigMap")
            if "MLFLOW_BACKEND_STORE_URI" in cm.get("data", {})]
    if any(is_rivulet(c) for w in workloads(docs) for c in containers(w)):
        r.check(target, len(defs) == 1, "the backend store URI is defined exactly once (one ConfigMap key)", f"{defs}")
    for w in workloads(docs):
        for c in containers(w):
            where = f"{w['kind']}/{w['metadata']['name']}/{c['name']}"
            text = yaml.safe_dump(c)
            r.check(target, "--backend-store-uri" not in text and "MLFLOW_TRACKING_URI" not in text
                    and not any(v["name"] == "MLFLOW_BACKEND_STORE_URI" for v in c.get("env", [])),
                    f"{where}: no second copy of the store URI (flag, MLFLOW_TRACKING_URI, env)")
            if is_rivulet(c):
                uri = container_env(c, docs).get("MLFLOW_BACKEND_STORE_URI")
                r.check(target, uri is not None, f"{where}: reads the store URI from the ConfigMap")
    for name, uri in defs:
        parts = urlsplit(uri)
        r.check(target, parts.password is None, f"ConfigMap {name}: the store URI carries no password", uri)
        if parts.scheme.startswith("postgres"):
            for w in workloads(docs):
                for c in containers(w):
                    if not is_rivulet(c):
                        continue
                    env = {v["name"]: v for v in c.get("env", [])}
                    ok = all(n in env and "secretKeyRef" in env[n].get("valueFrom", {}) for n in ("PGUSER", "PGPASSWORD"))
                    r.check(target, ok, f"{w['kind']}/{w['metadata']['name']}: PGUSER/PGPASSWORD from a secretKeyRef")


def check_probes(r, target, docs):
    for d in find(docs, "Deployment"):
        for c in d["spec"]["template"]["spec"]["containers"]:
            where = f"Deployment/{d['metadata']['name']}/{c['name']}"
            live, ready = c.get("livenessProbe"), c.get("readinessProbe")
            if not r.check(target, bool(live and ready), f"{where}: liveness and readiness probes"):
                continue
            port_names = {p["name"] for p in c.get("ports", [])}
            for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
                probe = c.get(kind)
                if probe and "httpGet" in probe:
                    port = probe["httpGet"]["port"]
                    r.check(target, isinstance(port, int) or port in port_names, f"{where}: {kind} port {port} is a container port")
            if is_rivulet(c):
                lp, rp = live["httpGet"]["path"], ready["httpGet"]["path"]
                r.check(target, lp == "/health" and rp == "/ready",
                        f"{where}: split probes, liveness /health (no database) and readiness /ready", f"{lp} / {rp}")
                r.check(target, c.get("startupProbe", {}).get("httpGet", {}).get("path") == "/health",
                        f"{where}: a startup probe covers schema creation before liveness starts")


def check_security(r, target, docs):
    for w in workloads(docs):
        spec = pod_spec(w)
        where = f"{w['kind']}/{w['metadata']['name']}"
        psc = spec.get("securityContext", {})
        root_reason = w["spec"]["template"]["metadata"].get("annotations", {}).get(ROOT_ANNOTATION)
        if root_reason:
            # Only one-off migration Jobs may run as root, and they must say why.
            r.check(target, target in ROOT_ALLOWED and w["kind"] == "Job",
                    f"{where}: runs as root ({root_reason}) -- allowed only for one-off Jobs in {sorted(ROOT_ALLOWED)}")
        else:
            r.check(target, psc.get("runAsNonRoot") is True and psc.get("runAsUser", 0) != 0,
                    f"{where}: pod runs as a non-root user", f"{psc}")
        r.check(target, psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{where}: seccomp RuntimeDefault")
        r.check(target, spec.get("automountServiceAccountToken") is False, f"{where}: no service account token mounted")
        for c in containers(w):
            csc = c.get("securityContext", {})
            ok = (csc.get("allowPrivilegeEscalation") is False and csc.get("readOnlyRootFilesystem") is True
                  and csc.get("capabilities", {}).get("drop") == ["ALL"] and csc.get("privileged") is not True
                  and (root_reason or not csc.get("capabilities", {}).get("add")))
            r.check(target, ok, f"{where}/{c['name']}: read-only root, no privilege escalation, all capabilities dropped", f"{csc}")
            res = c.get("resources", {})
            ok = {"cpu", "memory"} <= set(res.get("requests", {})) and "memory" in res.get("limits", {})
            r.check(target, ok, f"{where}/{c['name']}: CPU and memory requests, memory limit", f"{res}")
            image = c["image"]
            tag = image.split("@")[0].rsplit("/", 1)[-1]
            pinned = "@sha256:" in image or (":" in tag and not tag.endswith(":latest"))
            r.check(target, pinned, f"{where}/{c['name']}: image pinned to a tag or digest", image)
            if is_rivulet(c) and w["kind"] == "Deployment":
                # The measured footprint (docs/kubernetes.md, "Resources"): up to 317 MiB kept after
                # Collector-sized batches, peaks up to 850 MiB.
                req, lim = mebibytes(res.get("requests", {}).get("memory")), mebibytes(res.get("limits", {}).get("memory"))
                r.check(target, req >= 320 and lim >= 1024,
                        f"{where}/{c['name']}: memory request >= 320Mi and limit >= 1Gi (measured: 317 MiB kept, 850 MiB peak)", f"{res}")
                r.check(target, spec.get("enableServiceLinks") is False,
                        f"{where}: service links off (a Service `mlflow` would inject MLFLOW_PORT=tcp://...)")
                args = c.get("args", [])
                r.check(target, args[:1] == ["server"] and "--port=5000" in args and "--host=0.0.0.0" in args,
                        f"{where}: `rivulet server --host=0.0.0.0 --port=5000`", f"{args}")
                r.check(target, "--log-format=json" in args, f"{where}: JSON logs")


def check_volumes_and_rollout(r, target, docs):
    pvcs = {p["metadata"]["name"]: p for p in find(docs, "PersistentVolumeClaim")}
    jobs = find(docs, "Job")
    for d in find(docs, "Deployment"):
        spec = pod_spec(d)
        where = f"Deployment/{d['metadata']['name']}"
        claims = [v["persistentVolumeClaim"]["claimName"] for v in spec.get("volumes", []) if "persistentVolumeClaim" in v]
        for claim in claims:
            r.check(target, claim in pvcs, f"{where}: claim {claim} is rendered alongside")
        rwo = [c for c in claims if c in pvcs and "ReadWriteOnce" in pvcs[c]["spec"]["accessModes"]]
        replicas = d["spec"].get("replicas", 1)
        strategy = d["spec"].get("strategy", {}).get("type", "RollingUpdate")
        if rwo:
            r.check(target, strategy == "Recreate" and replicas == 1,
                    f"{where}: a ReadWriteOnce volume means one replica and the Recreate strategy", f"{replicas} / {strategy}")
        mounted = {v["name"] for c in spec["containers"] for v in c.get("volumeMounts", [])}
        declared = {v["name"] for v in spec.get("volumes", [])}
        r.check(target, mounted <= declared, f"{where}: every volume mount has a volume", f"{sorted(mounted - declared)}")
        riv = [c for c in spec["containers"] if is_rivulet(c)]
        if riv and replicas > 1:
            c = riv[0]
            r.check(target, strategy == "RollingUpdate" and d["spec"].get("strategy", {}).get("rollingUpdate", {}).get("maxUnavailable") == 0,
                    f"{where}: several replicas roll one at a time, never below the replica count")
            r.check(target, "--no-migrate" in c.get("args", []), f"{where}: replicas start with --no-migrate")
            env = container_env(c, docs)
            r.check(target, env.get("MLFLOW_ARTIFACTS_DESTINATION", "").startswith("s3://"),
                    f"{where}: artifacts on S3 (shared by every replica)", env.get("MLFLOW_ARTIFACTS_DESTINATION", ""))
            r.check(target, not rwo, f"{where}: no ReadWriteOnce volume with several replicas")
            cms = {cm["metadata"]["name"] for cm in config_maps_of(c, docs)}
            migration = [j for j in jobs for jc in pod_spec(j)["containers"]
                         if is_rivulet(jc) and jc.get("args", [])[:2] == ["db", "upgrade"]
                         and cms == {cm["metadata"]["name"] for cm in config_maps_of(jc, docs)}]
            r.check(target, len(migration) == 1, f"{where}: one migration Job runs `rivulet db upgrade` with the same ConfigMap")
            for j in migration:
                env_names = {v["name"] for jc in pod_spec(j)["containers"] for v in jc.get("env", [])}
                pg = urlsplit(env.get("MLFLOW_BACKEND_STORE_URI", "")).scheme.startswith("postgres")
                r.check(target, not pg or {"PGUSER", "PGPASSWORD"} <= env_names, f"Job/{j['metadata']['name']}: has the database credentials")
                r.check(target, pod_spec(j).get("restartPolicy") in ("Never", "OnFailure"), f"Job/{j['metadata']['name']}: restartPolicy")
    for pdb in find(docs, "PodDisruptionBudget"):
        targets = [d for d in find(docs, "Deployment") if labels_match(pdb["spec"]["selector"]["matchLabels"], d["spec"]["template"]["metadata"]["labels"])]
        if not r.check(target, len(targets) == 1, f"PodDisruptionBudget/{pdb['metadata']['name']}: selects one Deployment"):
            continue
        replicas = targets[0]["spec"].get("replicas", 1)
        spec = pdb["spec"]
        drains = spec.get("maxUnavailable", 0) >= 1 if "maxUnavailable" in spec else spec.get("minAvailable", 0) < replicas
        r.check(target, drains, f"PodDisruptionBudget/{pdb['metadata']['name']}: lets a node drain evict a pod", f"{spec}")


def check_wiring(r, target, docs):
    """Selectors and ports agree between Service, Deployment, Ingress, ServiceMonitor and NetworkPolicy."""
    deployments = find(docs, "Deployment")
    services = {s["metadata"]["name"]: s for s in find(docs, "Service")}
    for s in services.values():
        where = f"Service/{s['metadata']['name']}"
        backends = [d for d in deployments if labels_match(s["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])]
        if not r.check(target, len(backends) == 1, f"{where}: selector matches one Deployment's pods"):
            continue
        port_names = {p["name"] for c in backends[0]["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
        for p in s["spec"]["ports"]:
            r.check(target, p["targetPort"] in port_names or isinstance(p["targetPort"], int),
                    f"{where}: targetPort {p['targetPort']} is a container port")
    for ing in find(docs, "Ingress"):
        where = f"Ingress/{ing['metadata']['name']}"
        ann = ing["metadata"].get("annotations", {})
        r.check(target, ing["spec"].get("ingressClassName") == "nginx", f"{where}: nginx ingress class")
        r.check(target, ann.get("nginx.ingress.kubernetes.io/proxy-body-size") == "0"
                and int(ann.get("nginx.ingress.kubernetes.io/proxy-read-timeout", 0)) >= 600
                and int(ann.get("nginx.ingress.kubernetes.io/proxy-send-timeout", 0)) >= 600,
                f"{where}: no body size limit, 600 s read/send timeouts")
        for rule in ing["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                svc = path["backend"]["service"]
                ok = svc["name"] in services and svc["port"].get("name", svc["port"].get("number")) in \
                    {p.get("name") for p in services[svc["name"]]["spec"]["ports"]} | {p["port"] for p in services[svc["name"]]["spec"]["ports"]}
                r.check(target, ok, f"{where}: backend {svc['name']}:{svc['port']} exists")
            host = rule.get("host", "")
            r.check(target, host.startswith("mlflow.") and "<" not in host, f"{where}: host {host} is a valid mlflow.* name")
            allowed = set()
            for d in deployments:
                for c in d["spec"]["template"]["spec"]["containers"]:
                    if is_rivulet(c):
                        allowed |= set(filter(None, container_env(c, docs).get("MLFLOW_SERVER_ALLOWED_HOSTS", "").split(",")))
            r.check(target, host in allowed, f"{where}: host {host} is in MLFLOW_SERVER_ALLOWED_HOSTS (no --allowed-hosts=*)", f"{sorted(allowed)}")
    for sm in find(docs, "ServiceMonitor"):
        where = f"ServiceMonitor/{sm['metadata']['name']}"
        svcs = [s for s in services.values() if labels_match(sm["spec"]["selector"]["matchLabels"], s["metadata"].get("labels", {}))]
        if r.check(target, len(svcs) == 1, f"{where}: selects exactly one Service by its labels", f"{[s['metadata']['name'] for s in svcs]}"):
            names = {p["name"] for p in svcs[0]["spec"]["ports"]}
            for ep in sm["spec"]["endpoints"]:
                r.check(target, ep.get("port") in names and ep.get("path") == "/metrics", f"{where}: scrapes /metrics on port {ep.get('port')}")
    for np in find(docs, "NetworkPolicy"):
        where = f"NetworkPolicy/{np['metadata']['name']}"
        pods = [d for d in deployments if labels_match(np["spec"]["podSelector"]["matchLabels"], d["spec"]["template"]["metadata"]["labels"])]
        if r.check(target, len(pods) == 1, f"{where}: selects the Rivulet pods"):
            port_names = {p["name"] for c in pods[0]["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
            used = {p["port"] for rule in np["spec"].get("ingress", []) for p in rule.get("ports", [])}
            r.check(target, used <= port_names and "http" in used, f"{where}: allows the named ports {sorted(used)}")
    # Database resource agrees with the store URI and the credentials.
    for db in find(docs, "Database"):
        where = f"Database/{db['metadata']['name']}"
        cluster = db["spec"]["cluster"]["name"]
        uris = [cm["data"]["MLFLOW_BACKEND_STORE_URI"] for cm in find(docs, "ConfigMap") if "MLFLOW_BACKEND_STORE_URI" in cm.get("data", {})]
        ok = any(urlsplit(u).hostname in (f"{cluster}-rw", f"{cluster}-rw.{db['metadata'].get('namespace', '')}.svc")
                 and urlsplit(u).path.lstrip("/") == db["spec"]["name"] for u in uris)
        r.check(target, ok, f"{where}: the store URI names {cluster}-rw and database {db['spec']['name']}", f"{uris}")
        refs = {v["valueFrom"]["secretKeyRef"]["name"] for d in deployments for c in d["spec"]["template"]["spec"]["containers"]
                for v in c.get("env", []) if v["name"] in ("PGUSER", "PGPASSWORD")}
        r.check(target, refs == {f"{cluster}-app"}, f"{where}: credentials come from the cluster's application secret {cluster}-app", f"{refs}")
    if target.startswith("catalyst-lab"):
        for d in deployments:
            ann = d["spec"]["template"]["metadata"].get("annotations", {})
            r.check(target, ann.get("sidecar.istio.io/inject") == "false", f"Deployment/{d['metadata']['name']}: Istio sidecar off")


def merge(a, b):
    """The Collector's config merge: maps merge recursively, everything else is replaced."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = merge(a[k], v) if k in a else v
        return out
    return copy.deepcopy(b)


def collector_config(docs):
    """The effective config of each Collector Deployment: its --config files merged in order."""
    out = []
    for d in find(docs, "Deployment"):
        c = d["spec"]["template"]["spec"]["containers"][0]
        files = [a.split("=", 1)[1] for a in c.get("args", []) if a.startswith("--config=")]
        if not files:
            continue
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        volumes = {v["name"]: v for v in d["spec"]["template"]["spec"].get("volumes", [])}
        config, missing = {}, []
        for f in files:
            f = f.removeprefix("file:")
            directory, key = f.rsplit("/", 1)
            vol = volumes.get(mounts.get(directory, ""), {})
            cm = find(docs, "ConfigMap", vol.get("configMap", {}).get("name"))
            if not cm or key not in cm[0].get("data", {}):
                missing.append(f)
                continue
            config = merge(config, yaml.safe_load(cm[0]["data"][key]))
        out.append((d, config, missing))
    return out


def rivulet_exporters(config):
    return {name: e for name, e in config.get("exporters", {}).items()
            if name.split("/")[0] in ("otlp_http", "otlphttp") and urlsplit(e.get("endpoint", "")).hostname
            and urlsplit(e["endpoint"]).hostname.split(".")[0] == "mlflow"}


def check_collector(r, target, docs):
    for d, config, missing in collector_config(docs):
        where = f"Deployment/{d['metadata']['name']}"
        r.check(target, not missing, f"{where}: every --config file is in its ConfigMap", f"{missing}")
        traces = config.get("service", {}).get("pipelines", {}).get("traces")
        if not r.check(target, bool(traces), f"{where}: has a traces pipeline"):
            continue
        for kind in ("receivers", "processors", "exporters"):
            undefined = [n for n in traces.get(kind, []) if n not in config.get(kind, {})]
            r.check(target, not undefined, f"{where}: every pipeline {kind[:-1]} is defined", f"{undefined}")
        exporters = rivulet_exporters(config)
        in_pipeline = [n for n in traces["exporters"] if n in exporters]
        if not r.check(target, len(in_pipeline) == 1, f"{where}: one otlp_http exporter to the Service mlflow in the pipeline", f"{list(exporters)}"):
            continue
        e = exporters[in_pipeline[0]]
        u = urlsplit(e["endpoint"])
        r.check(target, u.scheme == "http" and u.port == 5000 and u.path in ("", "/") and "traces_endpoint" not in e,
                f"{where}: endpoint {e['endpoint']} (the exporter appends /v1/traces)")
        headers = {k.lower(): v for k, v in e.get("headers", {}).items()}
        r.check(target, headers.get("x-mlflow-experiment-name") == EXPERIMENT_NAME and "x-mlflow-experiment-id" not in headers,
                f"{where}: sends x-mlflow-experiment-name: {EXPERIMENT_NAME}, no experiment id bootstrap", f"{headers}")
        r.check(target, e.get("compression") == "gzip", f"{where}: gzip compression")
        r.check(target, e.get("encoding", "proto") == "proto", f"{where}: protobuf encoding")
        retry = e.get("retry_on_failure", {})
        r.check(target, retry.get("enabled") is True and str(retry.get("max_elapsed_time", "")).rstrip("s").isdigit()
                and int(str(retry["max_elapsed_time"]).rstrip("s")) >= 60, f"{where}: retries for at least a minute", f"{retry}")
        processors = traces.get("processors", [])
        filters = [p for p in processors if p.split("/")[0] == "filter"]
        conditions = [c for p in filters for c in config["processors"][p].get("traces", {}).get("span", [])]
        dropped = {m.group(1) for c in conditions for m in [re.fullmatch(r'name == "([^"]*)"', c.strip())] if m}
        r.check(target, PROBE_SPAN_NAMES <= dropped, f"{where}: drops probe spans {sorted(PROBE_SPAN_NAMES)}", f"{sorted(dropped)}")
        r.check(target, bool(filters) and "batch" in processors and processors.index(filters[0]) < processors.index("batch"),
                f"{where}: probe filter runs before batching")
        r.check(target, processors[:1] == ["memory_limiter"], f"{where}: memory_limiter first")
        others = [n for n in traces["exporters"] if n not in exporters]
        if target.endswith("fanout"):
            r.check(target, any(n.split("/")[0] in ("otlp_grpc", "otlp") for n in others), f"{where}: fans out to a second OTLP backend")
        else:
            r.check(target, not others, f"{where}: Rivulet is the only trace exporter")


def strictify(schema):
    """additionalProperties: false wherever a CRD schema lists properties and does not keep unknown fields."""
    if isinstance(schema, dict):
        schema = {k: strictify(v) for k, v in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [strictify(v) for v in schema]
    return schema


def load_crds(directory):
    schemas = {}
    for f in sorted(Path(directory).glob("*.yaml")):
        crd = yaml.safe_load(f.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schemas[(f"{group}/{version['name']}", kind)] = strictify(version["schema"]["openAPIV3Schema"])
    return schemas


def check_custom_resources(r, target, docs, schemas):
    builtin = re.compile(r"^(v1|apps/v1|batch/v1|policy/v1|networking\.k8s\.io/v1|autoscaling/v2)$")
    for d in docs:
        if builtin.match(d["apiVersion"]):
            continue
        where = f"{d['kind']}/{d['metadata']['name']} ({d['apiVersion']})"
        schema = schemas.get((d["apiVersion"], d["kind"]))
        if not r.check(target, schema is not None, f"{where}: a vendored CRD schema exists"):
            continue
        # metadata is validated by the API server, not by the CRD schema.
        body = {k: v for k, v in d.items() if k != "metadata"}
        s = dict(schema)
        s["properties"] = {k: v for k, v in schema["properties"].items() if k != "metadata"}
        s["required"] = [k for k in schema.get("required", []) if k != "metadata"]
        errors = sorted(jsonschema.Draft7Validator(s).iter_errors(body), key=lambda e: list(e.path))
        r.check(target, not errors, f"{where}: valid against its CRD (strict)",
                "; ".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:5]))


# --------------------------------------------------------------------------------------------

def server_env(path):
    docs = load(path)
    d = find(docs, "Deployment", "mlflow")[0]
    c = [c for c in d["spec"]["template"]["spec"]["containers"] if is_rivulet(c)][0]
    for cm in config_maps_of(c, docs):
        for k, v in cm.get("data", {}).items():
            print(f"{k}={v}")


def collector_headers(path):
    for _, config, _ in collector_config(load(path)):
        for e in rivulet_exporters(config).values():
            for k, v in e.get("headers", {}).items():
                print(f"{k}: {v}")
            return


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--crds")
    parser.add_argument("--server-env")
    parser.add_argument("--collector-headers")
    parser.add_argument("rendered", nargs="*")
    args = parser.parse_args()
    if args.server_env:
        return server_env(args.server_env)
    if args.collector_headers:
        return collector_headers(args.collector_headers)
    schemas = load_crds(args.crds)
    r = Report()
    for item in args.rendered:
        target, path = item.split("=", 1)
        docs = load(path)
        print(f"== {target}")
        for check in (check_inventory, check_store_uri, check_probes, check_security, check_volumes_and_rollout,
                      check_wiring, check_collector):
            check(r, target, docs)
        check_custom_resources(r, target, docs, schemas)
    print(f"manifest checks: {r.passes} passed, {r.failures} failed")
    sys.exit(1 if r.failures else 0)


if __name__ == "__main__":
    main()
