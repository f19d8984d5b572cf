# Log lines and structured events. Every line passes through scrub() so a
# careless message cannot leak an LwA token or a client secret.
import sys

from drsagent.compat import const

_log_sink = None  # function(line) or None (stderr)
_event_sink = None  # function(dict) or None (events become log lines)

# Known secret values (client secret, tokens), keyed so a new access token
# replaces the old one instead of growing the table.
_secret_values = {}

# Token-like prefixes (the first six): everything after one, up to a separator,
# is masked ("earer " covers "Bearer " and "bearer "). Then key names whose value
# is masked in "key: value", "key=value" and '"key": "value"' ("passw": password, passwd).
_SECRET_MARKERS = const(
    (
        "Atza|",
        "Atzr|",
        "Atza%7C",
        "Atzr%7C",
        "earer ",
        "amzn1.oa2-cs.",
        "secret",
        "token",
        "passw",
    )
)


def scrub(text):
    """Return text with anything token-like replaced by ***."""
    t = text if isinstance(text, str) else str(text)
    for v in _secret_values.values():
        t = t.replace(v, "***")
    low = t.lower()
    for q, x in enumerate(_SECRET_MARKERS):
        q = q > 5  # a key name: found case-insensitively
        i = (low if q else t).find(x)
        while i >= 0:
            j = i + len(x)
            n = len(t)
            m = True  # mask what follows j
            if q:
                # Skip the rest of the key name ("client_secret", "tokens"), quotes and
                # spaces. A dotted key path ("lwa.refresh_token: missing") only names
                # the key: config errors never carry the value.
                while j < n and (t[j].isalpha() or t[j] == "_"):
                    j += 1
                m = not (i and t[i - 1] in "._" and t.rfind(".", 0, i) > t.rfind(" ", 0, i))
                while j < n and t[j] in "\"' ":
                    j += 1
                if m and j < n and t[j] in ":=":
                    j += 1
                    while j < n and t[j] == " ":
                        j += 1
                else:
                    m = False
            if m:
                if j < n and t[j] in "\"'":  # quoted: up to the closing quote (spaces too)
                    k = t.find(t[j], j + 1)
                    j += 1
                    if k < 0:
                        k = n
                else:  # a run of what a token/secret is made of (base64, %xx, LwA's "|")
                    k = j
                    while k < n and (t[k].isalpha() or t[k].isdigit() or t[k] in "-_.|+/=%~*"):
                        k += 1
                if k > j and t[j:k] != "***":
                    t = t[:j] + "***" + t[k:]
                    low = t.lower()
            i = (low if q else t).find(x, j)
    return t


def secret(name, value):
    """Remember a secret value (e.g. "client_secret") so scrub() masks it verbatim."""
    if value and isinstance(value, str) and len(value) >= 6:
        _secret_values[name] = value
    else:
        _secret_values.pop(name, None)


def set_log_sink(function):
    """function(line) receives each scrubbed line, e.g. "W drs: throttled"; None = stderr."""
    global _log_sink
    _log_sink = function


def set_event_sink(function):
    """function(dict) receives each event {"ev": kind, ...}; None = write them to the log."""
    global _event_sink
    _event_sink = function


def _write(line):
    line = scrub(line)
    if _log_sink:
        _log_sink(line)
    else:
        sys.stderr.write(line + "\n")


def info(msg):
    _write("I " + str(msg))


def warn(msg):
    _write("W " + str(msg))


def error(msg):
    _write("E " + str(msg))


def emit(ev, **fields):
    """Structured event {"ev": ev, **fields}; string fields are scrubbed. The one
    event path of the agent; fields may include `kind` (net_error's error kind)."""
    fields["ev"] = ev
    for k in fields:
        if isinstance(fields[k], str):
            fields[k] = scrub(fields[k])
    if _event_sink:
        _event_sink(fields)
    else:
        import json

        _write("I event " + json.dumps(fields))
