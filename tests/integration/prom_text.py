# SPDX-License-Identifier: Apache-2.0
"""A strict parser of the Prometheus text exposition format 0.0.4, for the integration tests.

It rejects what Prometheus rejects and also what it merely tolerates, so that a page that
passes is in the canonical form:

  - every line ends with '\\n' (the page too); no empty lines, no '\\r', no tabs;
  - '# HELP NAME TEXT' (TEXT escapes only '\\\\' and '\\n') and '# TYPE NAME TYPE' (counter,
    gauge, histogram, summary, untyped), each at most once per family, both before the
    family's first sample; other '#' lines are comments;
  - sample lines: NAME[{LABELS}] VALUE [TIMESTAMP], single spaces; NAME matches
    [a-zA-Z_:][a-zA-Z0-9_:]*; LABELS are name="value" pairs separated by ',' (no trailing
    comma, no spaces), names match [a-zA-Z_][a-zA-Z0-9_]* and do not start with '__', no name
    twice; values escape only '\\\\', '\\"' and '\\n'; VALUE is a Go-style float (NaN, +Inf,
    -Inf included), TIMESTAMP an integer;
  - a family's samples are contiguous (no interleaving), they belong to the family (the same
    name, or _bucket/_sum/_count for histograms and summaries), no series appears twice.

parse(text) returns a list of Family; it raises ParseError("line N: what") on the first
problem. Only the standard library is used.
"""

import math
import re

NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
FLOAT_RE = re.compile(r"^(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                      r"|[+-]?Inf|NaN)$")
INT_RE = re.compile(r"^-?[0-9]+$")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}


class ParseError(ValueError):
    pass


class Sample:
    def __init__(self, name, labels, value, timestamp):
        self.name = name
        self.labels = labels          # list of (name, unescaped value), in text order
        self.value = value            # float
        self.timestamp = timestamp    # int or None

    def label(self, name):
        for k, v in self.labels:
            if k == name:
                return v
        return None

    def key(self):
        return (self.name, tuple(sorted(self.labels)))


class Family:
    def __init__(self, name):
        self.name = name
        self.type = "untyped"
        self.help = None
        self.has_type = False
        self.samples = []


def unescape(text, allowed, lineno, what):
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text):
                raise ParseError("line %d: %s ends with a lone backslash" % (lineno, what))
            nxt = text[i + 1]
            if nxt not in allowed:
                raise ParseError("line %d: %s has an invalid escape '\\%s'" % (lineno, what, nxt))
            out.append("\n" if nxt == "n" else nxt)
            i += 2
            continue
        if c == "\n":
            raise ParseError("line %d: %s holds a raw newline" % (lineno, what))
        out.append(c)
        i += 1
    return "".join(out)


def parse_float(text, lineno):
    if not FLOAT_RE.match(text):
        raise ParseError("line %d: value %r is not a float" % (lineno, text))
    if text.endswith("Inf"):
        return -math.inf if text.startswith("-") else math.inf
    if text == "NaN":
        return math.nan
    return float(text)


def parse_labels(line, pos, lineno):
    """Parses '{...}' starting at line[pos] == '{'; returns (labels, position after '}')."""
    labels, seen = [], set()
    pos += 1
    if pos < len(line) and line[pos] == "}":
        raise ParseError("line %d: empty label set '{}' (omit the braces)" % lineno)
    while True:
        m = LABEL_NAME_RE.match(line, pos)
        if not m:
            raise ParseError("line %d: bad label name at column %d" % (lineno, pos + 1))
        name = m.group(0)
        if name.startswith("__"):
            raise ParseError("line %d: label name %r is reserved" % (lineno, name))
        if name in seen:
            raise ParseError("line %d: label %r given twice" % (lineno, name))
        seen.add(name)
        pos = m.end()
        if line[pos:pos + 2] != '="':
            raise ParseError("line %d: expected =\" after label %r" % (lineno, name))
        pos += 2
        start = pos
        while pos < len(line) and line[pos] != '"':
            pos += 2 if line[pos] == "\\" else 1
        if pos >= len(line):
            raise ParseError("line %d: unterminated value of label %r" % (lineno, name))
        labels.append((name, unescape(line[start:pos], '\\"n', lineno, "label " + name)))
        pos += 1
        if pos < len(line) and line[pos] == ",":
            pos += 1
            if pos < len(line) and line[pos] == "}":
                raise ParseError("line %d: trailing comma in the label set" % lineno)
            continue
        if pos < len(line) and line[pos] == "}":
            return labels, pos + 1
        raise ParseError("line %d: expected ',' or '}' at column %d" % (lineno, pos + 1))


def family_of(name, families_by_name):
    if name in families_by_name:
        return families_by_name[name]
    for fam_type, suffixes in SUFFIXES.items():
        for suffix in suffixes:
            base = name[:-len(suffix)] if name.endswith(suffix) else None
            if base and base in families_by_name and families_by_name[base].type == fam_type:
                return families_by_name[base]
    return None


def parse(text):
    if text == "":
        raise ParseError("empty page")
    if not text.endswith("\n"):
        raise ParseError("the page does not end with a newline")
    if "\r" in text:
        raise ParseError("carriage return in the page")
    families, by_name = [], {}
    current = None
    series = set()
    for lineno, line in enumerate(text[:-1].split("\n"), start=1):
        if line == "":
            raise ParseError("line %d: empty line" % lineno)
        if "\t" in line:
            raise ParseError("line %d: tab character" % lineno)
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[0] == "#" and parts[1] in ("HELP", "TYPE"):
                kind, name = parts[1], parts[2]
                if not NAME_RE.fullmatch(name):
                    raise ParseError("line %d: bad metric name %r in %s" % (lineno, name, kind))
                fam = by_name.get(name)
                if fam is None:
                    fam = Family(name)
                    by_name[name] = fam
                    families.append(fam)
                elif fam is not current or fam.samples:
                    raise ParseError("line %d: %s for %r after its samples or another family"
                                     % (lineno, kind, name))
                current = fam
                if kind == "HELP":
                    if fam.help is not None:
                        raise ParseError("line %d: second HELP for %r" % (lineno, name))
                    fam.help = unescape(parts[3] if len(parts) > 3 else "", "\\n", lineno,
                                        "HELP of " + name)
                else:
                    if fam.has_type:
                        raise ParseError("line %d: second TYPE for %r" % (lineno, name))
                    if len(parts) != 4 or parts[3] not in TYPES:
                        raise ParseError("line %d: bad TYPE line %r" % (lineno, line))
                    fam.type, fam.has_type = parts[3], True
            continue  # any other comment
        m = NAME_RE.match(line)
        if not m:
            raise ParseError("line %d: bad metric name" % lineno)
        name, pos = m.group(0), m.end()
        labels = []
        if pos < len(line) and line[pos] == "{":
            labels, pos = parse_labels(line, pos, lineno)
        rest = line[pos:]
        if not rest.startswith(" ") or rest.startswith("  "):
            raise ParseError("line %d: expected one space before the value" % lineno)
        fields = rest[1:].split(" ")
        if len(fields) not in (1, 2) or "" in fields:
            raise ParseError("line %d: expected VALUE [TIMESTAMP] after the series" % lineno)
        value = parse_float(fields[0], lineno)
        timestamp = None
        if len(fields) == 2:
            if not INT_RE.match(fields[1]):
                raise ParseError("line %d: timestamp %r is not an integer" % (lineno, fields[1]))
            timestamp = int(fields[1])
        fam = family_of(name, by_name)
        if fam is None:
            fam = Family(name)  # a sample with neither HELP nor TYPE: an untyped family
            by_name[name] = fam
            families.append(fam)
        elif fam is not current:
            raise ParseError("line %d: sample of %r interleaved with another family"
                             % (lineno, fam.name))
        current = fam
        sample = Sample(name, labels, value, timestamp)
        if sample.key() in series:
            raise ParseError("line %d: series %s%s repeated" % (lineno, name, dict(labels)))
        series.add(sample.key())
        fam.samples.append(sample)
    return families


def by_family(families):
    return {f.name: f for f in families}
