#!/usr/bin/env python3
"""Checks deploy/envoy/envoy.yaml against this project's rules, without Envoy.

Envoy's own check (`envoy --mode validate -c deploy/envoy/envoy.yaml`) knows
Envoy's schema but nothing of this project; this one knows the project but
not Envoy's schema. It reads the facts it checks against from the repository:
the gRPC packages (protos/), the services' ports (tools/lib/common.sh), the
token issuer and audience (common/auth), the keep-alive intervals of the two
server streams, and the file names `tools/crm up --tls` writes. Run it from
anywhere; it needs python3 and PyYAML (Debian: python3-yaml).

  python3 deploy/envoy/check_envoy_config.py                  # check; exit 1 on a failure
  python3 deploy/envoy/check_envoy_config.py --print-json     # the config as JSON
  python3 deploy/envoy/check_envoy_config.py --print-json --with-optional

The file's optional blocks (between `# >>> optional: NAME` and
`# <<< optional: NAME`) are checked too, turned on the way a reader would:
one "# " removed from each line between the markers.
"""

import argparse
import json
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "envoy" / "envoy.yaml"

HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
CORS_POLICY_TYPE = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy"
PROTOCOL_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
FILTER_TYPES = {
    "envoy.filters.http.health_check": "type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck",
    "envoy.filters.http.cors": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors",
    "envoy.filters.http.grpc_web": "type.googleapis.com/envoy.extensions.filters.http.grpc_web.v3.GrpcWeb",
    "envoy.filters.http.jwt_authn": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
    "envoy.filters.http.router": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
}
# gRPC servers' default ping policy (GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS).
GRPC_MIN_PING_INTERVAL_S = 300
# Envoy's default circuit breaker: max_requests 1024 per cluster.
ENVOY_DEFAULT_MAX_REQUESTS = 1024
BEGIN = re.compile(r"^\s*# >>> optional: (.+?)\s*$")
END = re.compile(r"^\s*# <<< optional: (.+?)\s*$")


# ---------------------------------------------------------------- the file


def optional_blocks(text):
    """Names of the optional blocks, in order; raises on unbalanced markers."""
    names, open_name = [], None
    for number, line in enumerate(text.splitlines(), 1):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if open_name is not None:
                raise ValueError(f"line {number}: block {begin.group(1)!r} opens inside {open_name!r}")
            open_name = begin.group(1)
        elif end:
            if end.group(1) != open_name:
                raise ValueError(f"line {number}: end of {end.group(1)!r}, but {open_name!r} is open")
            names.append(open_name)
            open_name = None
    if open_name is not None:
        raise ValueError(f"block {open_name!r} never ends")
    return names


def with_blocks(text, enabled):
    """The file with the named optional blocks turned on."""
    out, current = [], None
    for number, line in enumerate(text.splitlines(), 1):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            current = begin.group(1)
        elif end:
            current = None
        elif current in enabled:
            stripped = re.sub(r"^(\s*)# ?", r"\1", line, count=1)
            if stripped == line:
                raise ValueError(f"line {number} in block {current!r} is not commented out")
            line = stripped
        out.append(line)
    return "\n".join(out) + "\n"


def seconds(value):
    """A protobuf JSON duration ("1.5s") in seconds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)s", str(value))
    if not match:
        raise ValueError(f"not a duration: {value!r}")
    return float(match.group(1))


# ---------------------------------------------------------------- the repository


def read(relative):
    return (ROOT / relative).read_text()


def repo_facts():
    packages = {}
    for proto in sorted((ROOT / "protos" / "crm").glob("*/v1/*.proto")):
        match = re.search(r"^package (crm\.(\w+)\.v1);", proto.read_text(), re.M)
        if match:
            packages[match.group(2)] = match.group(1)
    ports = {
        name: int(port)
        for name, port in re.findall(r"^\s*\[(\w+)\]=(\d+)\s*$", read("tools/lib/common.sh"), re.M)
    }

    def flag(path, name):
        match = re.search(rf"ABSL_FLAG\([^,]+, {name}, \"?([^\",]+)\"?,", read(path))
        if not match:
            raise LookupError(f"--{name} not found in {path}")
        return match.group(1)

    keepalive = re.search(r"kKeepAlive = absl::Seconds\((\d+)\)",
                          read("services/audit/watch_activities_reactor.cc"))
    if not keepalive:
        raise LookupError("kKeepAlive not found in services/audit/watch_activities_reactor.cc")
    auth_rpcs = set(re.findall(r"^\s*rpc (\w+)\(", read("protos/crm/auth/v1/auth_service.proto"), re.M))
    return {
        "packages": packages,
        "ports": ports,
        "issuer": flag("common/auth/authenticator_flags.cc", "token_issuer"),
        "audience": flag("common/auth/authenticator_flags.cc", "token_audience"),
        "heartbeat_s": max(int(flag("services/notifications/main.cc", "watch_heartbeat_seconds")),
                           int(keepalive.group(1))),
        "max_watch_streams": int(flag("services/notifications/main.cc", "max_watch_streams")),
        "auth_rpcs": auth_rpcs,
        "tls_files": {"ca.crt", "client.crt", "client.key"},
    }


# ---------------------------------------------------------------- the checks


class Failed(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise Failed(message)


def hcm_of(config):
    listeners = config["static_resources"]["listeners"]
    expect(len(listeners) == 1, f"{len(listeners)} listeners, want 1")
    filters = listeners[0]["filter_chains"][0]["filters"]
    expect(len(filters) == 1 and filters[0]["typed_config"]["@type"] == HCM_TYPE,
           "the filter chain is not one http_connection_manager")
    return filters[0]["typed_config"]


def virtual_host(config):
    hosts = hcm_of(config)["route_config"]["virtual_hosts"]
    expect(len(hosts) == 1, f"{len(hosts)} virtual hosts, want 1")
    return hosts[0]


def clusters(config):
    return {c["name"]: c for c in config["static_resources"]["clusters"]}


def check_listener(config, facts):
    listener = config["static_resources"]["listeners"][0]
    address = listener["address"]["socket_address"]
    expect(address["port_value"] == 8080, "the listener is not on port 8080 (the gateway's)")
    expect(listener.get("per_connection_buffer_limit_bytes"), "no per_connection_buffer_limit_bytes")
    hcm = hcm_of(config)
    expect(hcm["codec_type"] == "AUTO", "codec_type is not AUTO (HTTP/1.1 and HTTP/2)")
    expect(hcm.get("use_remote_address") is True, "use_remote_address is not true")
    expect(isinstance(hcm.get("xff_num_trusted_hops"), int), "xff_num_trusted_hops not set")
    expect(not hcm.get("skip_xff_append"), "skip_xff_append: the services would not see the client")
    idle = seconds(hcm["stream_idle_timeout"])
    expect(idle >= 4 * facts["heartbeat_s"],
           f"stream_idle_timeout {idle:g}s is under 4 stream keep-alives ({facts['heartbeat_s']} s each)")
    expect(seconds(hcm["request_headers_timeout"]) > 0, "request_headers_timeout is off")
    expect("request_timeout" not in hcm or seconds(hcm["request_timeout"]) == 0,
           "request_timeout would end long requests")


def check_access_logs(config, facts):
    hcm = hcm_of(config)
    router = [f for f in hcm["http_filters"] if f["name"] == "envoy.filters.http.router"][0]
    logs = hcm.get("access_log", []) + router["typed_config"].get("upstream_log", [])
    expect(hcm.get("access_log"), "no access log")
    for log in logs:
        expect(log["name"] == "envoy.access_loggers.stdout", f"{log['name']}: not stdout")
        fields = log["typed_config"]["log_format"]["json_format"]
        text = json.dumps(fields).lower()
        for secret in ("authorization", "cookie", "refresh_token", "password"):
            expect(secret not in text, f"an access log names {secret}")
    fields = hcm["access_log"][0]["typed_config"]["log_format"]["json_format"]
    values = set(fields.values())
    for wanted in ("%REQ(:METHOD)%", "%RESPONSE_CODE%", "%TRAILER(GRPC-STATUS)%", "%DURATION%",
                   "%BYTES_SENT%", "%BYTES_RECEIVED%", "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"):
        expect(wanted in values, f"the access log has no {wanted}")
    expect(any(v.startswith("%REQ(:PATH)") for v in values), "the access log has no path")
    expect(any(v.startswith("%REQ(ORIGIN)") for v in values), "the access log has no origin")


def check_filters(config, facts, optional):
    names = [f["name"] for f in hcm_of(config)["http_filters"]]
    want = ["envoy.filters.http.health_check", "envoy.filters.http.cors", "envoy.filters.http.grpc_web"]
    if "jwt_authn" in optional:
        want.append("envoy.filters.http.jwt_authn")
    want.append("envoy.filters.http.router")
    expect(names == want, f"http_filters are {names}, want {want}")
    for f in hcm_of(config)["http_filters"]:
        expect(f["typed_config"]["@type"] == FILTER_TYPES[f["name"]], f"{f['name']}: wrong @type")


def check_cors(config, facts):
    per_filter = virtual_host(config)["typed_per_filter_config"]
    expect(list(per_filter) == ["envoy.filters.http.cors"], "the virtual host's per-filter config")
    policy = per_filter["envoy.filters.http.cors"]
    expect(policy["@type"] == CORS_POLICY_TYPE, "CorsPolicy @type")
    origins = policy["allow_origin_string_match"]
    expect(origins and all(list(m) == ["exact"] for m in origins), "origins must be an exact list")
    expect(all(re.fullmatch(r"https?://[^/*\s]+", m["exact"]) for m in origins),
           "an origin is not scheme://host[:port]")
    expect(policy.get("allow_credentials") is True, "allow_credentials is not true")

    def items(key):
        return {h.strip().lower() for h in policy[key].split(",")}

    expect(items("allow_methods") == {"post", "options"}, "allow_methods")
    expect({"content-type", "authorization", "x-grpc-web", "x-user-agent", "grpc-timeout"}
           <= items("allow_headers"), "allow_headers lacks a gRPC-web request header")
    expect({"grpc-status", "grpc-message", "grpc-status-details-bin"} <= items("expose_headers"),
           "expose_headers lacks a gRPC status header")
    expect(int(policy["max_age"]) > 0, "max_age")


def check_routes(config, facts):
    routes = virtual_host(config)["routes"]
    known = clusters(config)
    by_prefix = {r["match"].get("prefix"): r for r in routes if "route" in r}
    for service, package in facts["packages"].items():
        route = by_prefix.get(f"/{package}.")
        expect(route is not None, f"no route for /{package}.")
        action = route["route"]
        expect(action["cluster"] == service, f"/{package}. goes to {action['cluster']}")
        expect(seconds(action["timeout"]) == 0, f"{service}: a fixed timeout would end streams")
        expect(seconds(action["max_stream_duration"]["grpc_timeout_header_max"]) == 0,
               f"{service}: grpc-timeout is not the deadline")
        expect("idle_timeout" not in action or seconds(action["idle_timeout"]) >= 4 * facts["heartbeat_s"],
               f"{service}: route idle_timeout under the stream keep-alives")
    expect(set(by_prefix) == {f"/{p}." for p in facts["packages"].values()},
           f"routes to clusters: {sorted(by_prefix)}")
    for route in routes:
        if "route" in route:
            expect(route["route"]["cluster"] in known, f"route to unknown cluster {route['route']['cluster']}")
    catch_all = [r for r in routes if r.get("name") == "unknown_service"]
    expect(len(catch_all) == 1 and routes[-1] is catch_all[0], "unknown_service is not the last route")
    unknown = catch_all[0]
    expect(unknown["match"]["prefix"] == "/", "unknown_service does not match every path")
    expect(unknown["direct_response"]["status"] == 200, "a gRPC answer must be HTTP 200")
    added = {h["header"]["key"]: h["header"]["value"] for h in unknown["response_headers_to_add"]}
    expect(added.get("grpc-status") == "12", "unknown_service does not answer UNIMPLEMENTED (12)")
    expect(all("%" not in v for v in added.values()), "a % in a header value is a formatter")


def check_clusters(config, facts, optional):
    known = clusters(config)
    services = set(facts["packages"])
    extra = {"gateway_jwks"} if "jwks cluster" in optional else set()
    expect(set(known) == services | extra, f"clusters {sorted(known)}, want {sorted(services | extra)}")
    for name in services:
        cluster = known[name]
        expect(cluster["load_assignment"]["cluster_name"] == name, f"{name}: load_assignment name")
        ports = {e["endpoint"]["address"]["socket_address"]["port_value"]
                 for group in cluster["load_assignment"]["endpoints"] for e in group["lb_endpoints"]}
        expect(ports == {facts["ports"][name]}, f"{name}: ports {ports}, tools/crm uses {facts['ports'][name]}")
        options = cluster["typed_extension_protocol_options"][PROTOCOL_OPTIONS]
        expect(options["@type"] == "type.googleapis.com/" + PROTOCOL_OPTIONS, f"{name}: protocol options @type")
        h2 = options["explicit_http_config"]["http2_protocol_options"]
        interval = seconds(h2["connection_keepalive"]["interval"])
        expect(interval >= GRPC_MIN_PING_INTERVAL_S,
               f"{name}: PINGs every {interval:g}s; gRPC servers GOAWAY under {GRPC_MIN_PING_INTERVAL_S}s")
        expect(seconds(h2["connection_keepalive"]["timeout"]) > 0, f"{name}: keepalive timeout")
        checks = cluster["health_checks"]
        expect(len(checks) == 1 and "grpc_health_check" in checks[0], f"{name}: not one gRPC health check")
        expect(checks[0]["grpc_health_check"].get("service_name", "") == "",
               f"{name}: health of a single service, not the server")
        thresholds = cluster["circuit_breakers"]["thresholds"]
        max_requests = max(t.get("max_requests", ENVOY_DEFAULT_MAX_REQUESTS) for t in thresholds)
        expect(max_requests > ENVOY_DEFAULT_MAX_REQUESTS, f"{name}: max_requests at Envoy's default")
        expect(cluster.get("per_connection_buffer_limit_bytes"), f"{name}: no per_connection_buffer_limit_bytes")
    notifications = known["notifications"]["circuit_breakers"]["thresholds"][0]["max_requests"]
    expect(notifications >= facts["max_watch_streams"],
           f"notifications: max_requests {notifications} < one replica's --max_watch_streams")


def check_jwt(config, facts, optional):
    if "jwt_authn" not in optional:
        return
    jwt = [f for f in hcm_of(config)["http_filters"] if f["name"] == "envoy.filters.http.jwt_authn"][0]
    settings = jwt["typed_config"]
    (provider_name, provider), = settings["providers"].items()
    expect(provider["issuer"] == facts["issuer"], f"issuer {provider['issuer']}, tokens say {facts['issuer']}")
    expect(provider["audiences"] == [facts["audience"]], f"audiences {provider['audiences']}")
    expect(provider.get("forward") is True, "forward is not true: the services need the token")
    uri = provider["remote_jwks"]["http_uri"]
    expect(uri["uri"].endswith("/.well-known/jwks.json"), "JWKS uri is not the gateway's")
    expect(uri["cluster"] in clusters(config), f"JWKS cluster {uri['cluster']} missing")
    rules = settings["rules"]
    public = {r["match"]["path"].rsplit("/", 1)[1]: r for r in rules if "path" in r["match"]}
    expect(set(public) <= facts["auth_rpcs"], f"rules name unknown RPCs: {sorted(set(public) - facts['auth_rpcs'])}")
    for method in ("Login", "RefreshToken", "ListPublicKeys"):
        expect(method in public and "requires" not in public[method], f"{method} must need no token")
    expect(public["Logout"]["requires"] == {"allow_missing_or_failed": {}}, "Logout must allow a missing token")
    expect(rules[-1] == {"match": {"prefix": "/"}, "requires": {"provider_name": provider_name}},
           "the last rule must require a token everywhere else")


def check_tls(config, facts, optional):
    for block in optional:
        if not block.startswith("mtls "):
            continue
        name = block.split(" ", 1)[1]
        socket = clusters(config)[name]["transport_socket"]
        tls = socket["typed_config"]
        expect(tls["@type"].endswith("tls.v3.UpstreamTlsContext"), f"{name}: not an UpstreamTlsContext")
        expect(tls["sni"] == name, f"{name}: sni {tls['sni']}")
        common = tls["common_tls_context"]
        expect(common["alpn_protocols"] == ["h2"], f"{name}: ALPN must be h2 for gRPC")
        files = [common["validation_context"]["trusted_ca"]["filename"]]
        for pair in common["tls_certificates"]:
            files += [pair["certificate_chain"]["filename"], pair["private_key"]["filename"]]
        names = {pathlib.PurePosixPath(f).name for f in files}
        expect(names == facts["tls_files"], f"{name}: files {sorted(names)}, tools/crm up --tls makes "
                                            f"{sorted(facts['tls_files'])}")
        sans = common["validation_context"]["match_typed_subject_alt_names"]
        expect(sans == [{"san_type": "DNS", "matcher": {"exact": name}}],
               f"{name}: must check the certificate names DNS:{name}")


CHECKS = [check_listener, check_access_logs, check_filters, check_cors, check_routes,
          check_clusters, check_jwt, check_tls]


def run(text, facts, optional, label):
    config = yaml.safe_load(with_blocks(text, optional))
    passed = failed = 0
    for check in CHECKS:
        try:
            if check.__code__.co_argcount == 3:
                check(config, facts, optional)
            else:
                check(config, facts)
            passed += 1
        except Failed as e:
            print(f"FAIL {label}: {check.__name__}: {e}")
            failed += 1
        except (KeyError, IndexError, TypeError, ValueError) as e:
            print(f"FAIL {label}: {check.__name__}: {type(e).__name__} {e}")
            failed += 1
    return passed, failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=pathlib.Path, default=CONFIG)
    parser.add_argument("--print-json", action="store_true", help="print the config as JSON and exit")
    parser.add_argument("--with-optional", action="store_true", help="with --print-json: every optional block on")
    args = parser.parse_args()

    text = args.config.read_text()
    blocks = optional_blocks(text)
    if args.print_json:
        json.dump(yaml.safe_load(with_blocks(text, set(blocks) if args.with_optional else set())),
                  sys.stdout, indent=2)
        print()
        return 0

    facts = repo_facts()
    passed = failed = 0
    for label, optional in [("as shipped", set()), ("every optional block on", set(blocks))]:
        p, f = run(text, facts, optional, label)
        passed, failed = passed + p, failed + f
        print(f"{'ok  ' if f == 0 else 'FAIL'} {label}: {p} checks passed"
              + (f" ({', '.join(sorted(optional))})" if optional else ""))
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
