"""What `gateway check` says about [tls]: for certificate files, that each key matches its
certificate, the chain is complete, the names cover the site's hosts and the dates are
good (errors as ConfigIssues at the entry's line), plus one note per certificate with its
expiry date. ACME and local certificates are made by gateway, so only their setup is checked."""

from __future__ import annotations

import datetime
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.errors import ConfigIssue, GatewayError
from gateway.tls.spec import TlsSpec


@dataclass
class TlsCheck:
    issues: list[ConfigIssue] = field(default_factory=list)  # make `gateway check` exit 1
    notes: list[str] = field(default_factory=list)  # printed, exit status unchanged


def check_tls(
    spec: TlsSpec, hosts: tuple[str, ...] = (), now: datetime.datetime | None = None
) -> TlsCheck:
    result = TlsCheck()
    if spec.mode == "acme" and importlib.util.find_spec("acme") is None:
        result.issues.append(
            spec.where.issue(
                "acme needs the acme package: pip install acme josepy (the 'acme' extra)", "acme"
            )
        )
    if spec.mode == "acme" and spec.acme is not None:
        names = ", ".join(spec.acme.domains)
        result.notes.append(f"tls: acme certificates for {names} from {spec.acme.directory}")
    if spec.mode == "local":
        result.notes.append("tls: local CA certificates (run `gateway trust` to trust the CA)")
    if spec.mode != "files":
        return result
    from gateway.tls.certificates import check_pair, system_roots

    roots = system_roots()
    for item in spec.certificates:
        where = item.where
        try:
            report = check_pair(item.cert, item.key, hosts, now=now, roots=roots)
        except GatewayError as error:
            result.issues.append(where.issue(str(error)))
            continue
        result.issues.extend(where.issue(problem) for problem in report.errors)
        result.notes.extend(f"{where.file}:{where.line}: warning: {w}" for w in report.warnings)
        result.notes.append(
            f"tls: {item.cert} covers {', '.join(report.names)}; "
            f"expires {report.not_after:%Y-%m-%d %H:%M} UTC"
        )
    return result


def print_check(config: Any, root: Path | None = None) -> bool:
    """`gateway check` for a config with [tls]: problems to stderr (with the error count,
    as other config errors are printed), notes such as expiry dates to stdout. True when
    nothing would stop `gateway serve`."""
    from gateway.config.report import format_issues
    from gateway.tls.site import site_hosts

    result = check_tls(config.tls, site_hosts(config))
    for note in result.notes:
        print(note)
    lines = format_issues(result.issues, root)
    for line in lines:
        print(line, file=sys.stderr)
    if lines:
        print(f"{len(lines)} error{'s' if len(lines) != 1 else ''}", file=sys.stderr)
    return not lines
