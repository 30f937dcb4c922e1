"""The credential formats the scrubber and the privacy rules know, in one table.

Every row of :data:`CREDENTIAL_FORMATS` is one format: a name, what it is, and a linear-time
pattern (literal prefixes or bounded repetitions only, so 100 KB of adversarial text scans in
milliseconds). A pattern with a named group ``secret`` has only that group replaced (the header
name or URL scheme stays readable); otherwise the whole match is the credential.

Why not ``detect-secrets``: measured on this machine, its default plugins take about 4 s per MB
of plain prose and flag lorem ipsum as high-entropy strings, it reports per line rather than the
span to replace, and without its entropy plugins it misses OpenAI project keys, Anthropic keys,
unlabelled AWS secret keys, fine-grained GitHub tokens, Google API keys, Bearer tokens and
HuggingFace tokens. This table is the maintained list instead; add a row and a test example
(``tests/unit_tests/test_credentials.py`` fails for a row without one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "CREDENTIAL_FORMATS",
    "CredentialFormat",
    "credential_pattern",
    "find_credential",
    "may_hold_credential",
]


@dataclass(frozen=True)
class CredentialFormat:
    """One kind of credential found in free text.

    Attributes:
        name: Short identifier (``aws_secret_access_key``), used in docs and tests.
        description: What it is, for the docs table.
        pattern: Where it is; the group ``secret``, when present, is the part to remove.
        standalone: Whether a match alone shows the text holds a credential (the privacy rules
            use these rows); ``False`` for prose-like rows (``password: ...``) that only
            redact.
        literals: The row can only match where one of these occurs (a cheap ``in`` test that
            skips the pattern for most texts).
        folded: ``literals`` and ``gate`` are tested against the lower-cased text.
        gate: A fast pattern that must match before ``pattern`` runs.
        long_run: The row can only match a run of this many base64 characters.
    """

    name: str
    description: str
    pattern: re.Pattern[str]
    standalone: bool = True
    literals: tuple[str, ...] = ()
    folded: bool = False
    gate: re.Pattern[str] | None = None
    long_run: int = 0

    def may_match(self, text: str, lower: str) -> bool:
        """Whether :attr:`pattern` can match ``text`` (``lower``: ``text.lower()``), cheaply."""
        probe = lower if self.folded else text
        if self.literals and not any(literal in probe for literal in self.literals):
            return False
        if self.gate is not None and self.gate.search(probe) is None:
            return False
        return not self.long_run or has_base64_run(text, self.long_run)

    def redact(self, text: str, replacement: str) -> str:
        """``text`` with every occurrence of this format replaced by ``replacement``."""
        if "secret" not in self.pattern.groupindex:
            return self.pattern.sub(replacement, text)

        def _keep_prefix(match: re.Match[str]) -> str:
            start, end = match.span("secret")
            whole = match.group(0)
            offset = match.start()
            return whole[: start - offset] + replacement + whole[end - offset :]

        return self.pattern.sub(_keep_prefix, text)


def _fmt(
    name: str,
    description: str,
    pattern: str,
    flags: int = 0,
    *,
    standalone: bool = True,
    literals: tuple[str, ...] = (),
    folded: bool = False,
    gate: str | None = None,
    long_run: int = 0,
) -> CredentialFormat:
    return CredentialFormat(
        name,
        description,
        re.compile(pattern, flags),
        standalone,
        literals,
        folded,
        None if gate is None else re.compile(gate),
        long_run,
    )


_RUN_CLASSES = bytes(
    1 if chr(b).isascii() and (chr(b).isalnum() or chr(b) in "+/") else 0 for b in range(256)
)


def has_base64_run(text: str, length: int) -> bool:
    """Whether ``text`` holds ``length`` base64 characters in a row (C loops, ~1 ms per MB)."""
    classes = text.encode("ascii", "replace").translate(_RUN_CLASSES)
    return classes.find(b"\x01" * length) != -1


_B64 = "A-Za-z0-9/+"
_AWS_PREFIXES = (
    "AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "ANPA", "ANVA", "AROA", "APKA", "ASCA",
)  # fmt: skip

CREDENTIAL_FORMATS: tuple[CredentialFormat, ...] = (
    _fmt(
        "private_key_block",
        "PEM / OpenSSH / PGP private key block (to its END line, or to the end of a cut text)",
        r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
        r"(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|\Z)",
        literals=("PRIVATE KEY",),
    ),
    _fmt(
        "anthropic_key",
        "Anthropic API key (sk-ant-...)",
        r"\bsk-ant-[A-Za-z0-9_-]{16,}",
        literals=("sk-ant-",),
    ),
    _fmt(
        "openai_key",
        "OpenAI API key (sk-..., sk-proj-..., sk-svcacct-..., sk-admin-...)",
        r"\bsk-[A-Za-z0-9_-]{16,}",
        literals=("sk-",),
    ),
    _fmt(
        "stripe_key",
        "Stripe secret or restricted key (sk_live_, rk_live_, sk_test_, rk_test_)",
        r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{10,}",
        literals=("k_live_", "k_test_"),
    ),
    _fmt(
        "langsmith_key",
        "LangSmith API key (lsv2_pt_..., lsv2_sk_...)",
        r"\blsv2_[a-z]{2}_\w{16,}",
        literals=("lsv2_",),
    ),
    _fmt(
        "huggingface_token",
        "HuggingFace token (hf_...)",
        r"\bhf_[A-Za-z0-9]{20,}",
        literals=("hf_",),
    ),
    _fmt(
        "github_token",
        "GitHub token (ghp_, gho_, ghs_, ghu_, ghr_) and fine-grained token (github_pat_)",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,})",
        literals=("ghp_", "gho_", "ghs_", "ghu_", "ghr_", "github_pat_"),
    ),
    _fmt(
        "google_api_key",
        "Google API key (AIza...)",
        r"\bAIza[0-9A-Za-z_-]{30,}",
        literals=("AIza",),
    ),
    _fmt(
        "slack_token",
        "Slack token (xoxa-, xoxb-, xoxp-, xoxr-, xoxs-, xoxe-) and incoming-webhook URL",
        r"\bxox[abeprs]-[A-Za-z0-9-]{10,}|hooks\.slack\.com/services/[A-Za-z0-9/_-]{10,}",
        literals=("xox", "hooks.slack.com"),
    ),
    _fmt(
        "aws_access_key_id",
        "AWS access key id (AKIA..., ASIA..., and the other IAM prefixes)",
        rf"\b(?:{'|'.join(_AWS_PREFIXES)})[0-9A-Z]{{16}}\b",
        literals=_AWS_PREFIXES,
    ),
    _fmt(
        "aws_secret_access_key",
        "AWS secret access key: 40 base64 characters with upper case, lower case and digits "
        "(labelled or not)",
        rf"(?<![{_B64}=])(?=[{_B64}]{{0,39}}[A-Z])(?=[{_B64}]{{0,39}}[a-z])"
        rf"(?=[{_B64}]{{0,39}}[0-9])[{_B64}]{{40}}(?![{_B64}=])",
        long_run=40,
    ),
    _fmt(
        "jwt",
        "JSON Web Token (eyJ....eyJ....signature)",
        r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*",
        literals=("eyJ",),
    ),
    _fmt(
        "url_credentials",
        "user:password in a URL (postgres://user:pass@host)",
        r"\b[A-Za-z][A-Za-z0-9+.-]{0,20}://(?P<secret>[^\s/?#@:\"'<>]{1,256}:[^\s/?#@\"'<>]{1,256})@",
        literals=("://",),
    ),
    _fmt(
        "authorization_header",
        "Authorization / Proxy-Authorization / Cookie / Set-Cookie header value",
        r"\b(?:(?:proxy-)?authorization|set-cookie|cookie)[\"']?\s{0,8}[:=]\s{0,8}[\"']?"
        r"(?P<secret>[^\r\n\"']+)",
        re.IGNORECASE,
        standalone=False,
        folded=True,
        gate=r"(?:authorization|cookie)[\"']?\s{0,8}[:=]",
    ),
    _fmt(
        "bearer_or_basic_token",
        "Bearer / Basic credentials written out (Bearer abc..., Basic dXNlcjpwYXNz)",
        r"\b(?:(?:[Bb]earer|BEARER)\s{1,8}|(?:Basic|BASIC)\s{1,8}"
        r"(?=[A-Za-z0-9._~+/=-]{0,200}[A-Z0-9]))[A-Za-z0-9._~+/=-]{8,}",
        literals=("earer", "EARER", "Basic", "BASIC"),
    ),
    _fmt(
        "secret_env_assignment",
        "Value of an upper-case *_KEY / *_TOKEN / *_SECRET / *_PASSWORD variable written out "
        "(OPENAI_API_KEY=..., export HF_TOKEN: ...)",
        r"\b[A-Z][A-Z0-9]{0,40}(?:_[A-Z0-9]{1,40}){0,8}_(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD)\b"
        r"\s{0,8}[=:]\s{0,8}[\"']?(?P<secret>[^\s\"'&,;]{6,})",
        standalone=False,
        literals=("_KEY", "_TOKEN", "_SECRET", "_PASSW"),
    ),
    _fmt(
        "secret_field",
        'Credential-named field in JSON, YAML, logs or a URL query ("api_key": ..., '
        "password=..., client_secret: ...)",
        r"\b(?:x[_-])?(?:api[_-]?key|access[_-]?token|refresh[_-]?token|auth[_-]?token"
        r"|id[_-]?token|client[_-]?secret|secret[_-]?key|private[_-]?key|secret|token"
        r"|password|passwd|pwd)[\"']?\s{0,8}[:=]\s{0,8}[\"']?(?P<secret>[^\s\"'&,;]{6,})",
        re.IGNORECASE,
        standalone=False,
        folded=True,
        gate=r"(?:key|token|secret|passwd|password|pwd)[\"']?\s{0,8}[:=]",
    ),
)
"""Every credential format known, most specific first (a key inside a header goes whole)."""

_DETECTING = tuple(row for row in CREDENTIAL_FORMATS if row.standalone)
_ANY = re.compile(
    "|".join(
        f"(?P<f{i}>{row.pattern.pattern.replace('(?P<secret>', '(?:')})"
        for i, row in enumerate(_DETECTING)
    )
)


def _prefilter(folded: bool) -> re.Pattern[str] | None:
    """One pattern that matches wherever some row of this foldedness may match (a superset)."""
    parts: list[str] = []
    for row in CREDENTIAL_FORMATS:
        if row.folded != folded:
            continue
        if row.literals:
            parts.extend(re.escape(literal) for literal in row.literals)
        elif row.gate is not None:
            parts.append(f"(?:{row.gate.pattern})")
        elif row.long_run:
            continue  # tested by has_base64_run (C loops), not by the combined pattern
        else:
            return re.compile("")  # a row with no cheap condition: every text may match
    return re.compile("|".join(parts)) if parts else None


_MAY_MATCH = _prefilter(folded=False)
_MAY_MATCH_FOLDED = _prefilter(folded=True)
_SHORTEST_RUN = min(
    (
        row.long_run
        for row in CREDENTIAL_FORMATS
        if row.long_run and not row.literals and not row.gate
    ),
    default=0,
)


def may_hold_credential(text: str) -> bool:
    """Whether some row of :data:`CREDENTIAL_FORMATS` may match ``text`` (one or two scans).

    ``False`` proves that no row matches, so a scrubber can return such a text untouched; a
    ``True`` only says that the rows' own cheap tests (:meth:`CredentialFormat.may_match`) and
    patterns must run.
    """
    if _MAY_MATCH is not None and _MAY_MATCH.search(text) is not None:
        return True
    if _SHORTEST_RUN and has_base64_run(text, _SHORTEST_RUN):
        return True
    return _MAY_MATCH_FOLDED is not None and _MAY_MATCH_FOLDED.search(text.lower()) is not None


def credential_pattern() -> re.Pattern[str]:
    """The standalone formats of :data:`CREDENTIAL_FORMATS` as one pattern (one scan).

    Header, field and assignment rows are left out: they are prose-like patterns
    (``password: ...``) used to redact, not to decide that a text holds a credential.
    """
    return _ANY


def find_credential(text: str) -> str | None:
    """The name of the first standalone credential format found in ``text``, or ``None``.

    Example:
        .. code-block:: python

            from langchain_netgpt.tracing.credentials import find_credential

            assert find_credential("key AKIAIOSFODNN7EXAMPLE here") == "aws_access_key_id"
            assert find_credential("no secrets here") is None
    """
    match = _ANY.search(text)
    if match is None or match.lastgroup is None:
        return None
    return _DETECTING[int(match.lastgroup[1:])].name
