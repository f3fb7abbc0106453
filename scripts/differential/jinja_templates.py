#!/usr/bin/env python3
"""Differential cases for chat templates: how jinja2 (the engine transformers and
llama-cpp-python render chat templates with) parses generated templates.

Writes fixtures/differential/jinja.jsonl.gz (gzip, mtime 0), one JSON case per line:
  {"t": template, "ok": jinja2 parses it, "names": [every attribute or item name the parsed
   template reaches with a constant, after folding `~`/`+` of constants], "why": error | null}
-- jinja2.Environment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols,
   generation]) .parse(t): transformers' chat-template environment (its `{% generation %}`
   tag stubbed by an extension of the same shape). Nothing is rendered.

Variants from a fixed seed: the syntax real chat templates use and the corners of jinja2's
grammar (unary operators, implicit string concatenation, tests with and without parentheses,
filters with keyword arguments, blocks, macros and call blocks, loop controls, namespaces,
slices, literals), joined in random order, some carrying a sandbox-escape attribute walk whose
names are spelled with `~` or `+` so that only a parser sees them.

Pins: Jinja2==3.1.6 (scripts/differential/requirements-config.txt).
Run: /work/venvs/hf/bin/python scripts/differential/jinja_templates.py
"""
import argparse
import json
import os
import random

import jinja2
import jinja2.ext
from jinja2 import nodes

from casefile import write_cases

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "fixtures", "differential")


class Generation(jinja2.ext.Extension):
    """transformers' `{% generation %}…{% endgeneration %}` marker tag, as a no-op block."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.Scope(body, lineno=lineno)


ENV = jinja2.Environment(trim_blocks=True, lstrip_blocks=True,
                         extensions=[jinja2.ext.loopcontrols, Generation])

SNIPPETS = [
    "{% for m in messages %}{% if m.role == 'user' %}{{ m.content }}{% endif %}{% endfor %}",
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ messages[0]['content'] }}{% endif %}",
    '{{ "a" "b" }}', "{{ 'a' 'b' 'c' }}",
    "{% for m in messages if m.role != 'system' %}{{ m.content|trim }}{% endfor %}",
    "{% for m in messages %}{% if loop.index > 2 %}{% break %}{% endif %}{% continue %}{% endfor %}",
    "{% set ns = namespace(found=false) %}{% set ns.found = true %}{{ ns.found }}",
    "{{ messages[::-1] }}", "{{ messages[1:] }}", "{{ 2 ** 3 // 2 % 5 }}",
    "{% macro f(x, y=1) %}{{ x }}{{ caller() }}{% endmacro %}{% call f(1) %}body{% endcall %}",
    "{% call(x) f(1) %}{{ x }}{% endcall %}",
    "{% filter upper %}x{% endfilter %}", "{% with a = 1 %}{{ a }}{% endwith %}",
    "{% raw %}{{ not parsed }}{% endraw %}",
    "{{ x is divisibleby 3 }}", "{{ x is divisibleby(3) }}", "{{ x is not none }}",
    "{% set x %}block{% endset %}{{ x }}", "{%+ if true %}x{%- endif -%}",
    "{# comment #}{{ 'a' if true }}",
    "{{ messages|selectattr('role', 'equalto', 'user')|list|length }}",
    "{{ x.y['z'](1, *args, **kwargs) }}", "{{ raise_exception('no') }}",
    "{{ 'x' ~ 1 ~ none ~ None ~ True ~ true }}", "{{ {'a': 1, 'b': [1, 2, (3,)]} }}",
    "{% if x is string %}a{% elif x is mapping %}b{% else %}c{% endif %}",
    "{{ (1, 2)[0] }}{{ 1e3 }}{{ 1_000 }}", "{% set a, b = 1, 2 %}{{ a }}",
    "{% for k, v in d.items() %}{{ k }}{% else %}empty{% endfor %}",
    "{{ x|default('y', true) }}{{ x|tojson(indent=2) }}",
    "{{ x|map(attribute='content')|join('\\n') }}",
    "{%- generation -%}{{ m.content }}{%- endgeneration -%}",
    "{{ not x }}", "{{ -x }}", "{{ +x }}", "{{ x in y }}", "{{ x not in y }}", "{{ - - x }}",
    "{{ +1 }}", "{{ x + +1 }}", "{{ (+x) }}",
    "{% for i in range(10) recursive %}{{ loop(i) }}{% endfor %}",
    "{% autoescape false %}x{% endautoescape %}", "{{ x|sum(start=1) }}",
    "{{ 'x'|format(1) }}{{ '%s' % 1 }}", "{{ \"\\u00e9\" }}", "{{ x.0 }}", "{{ x[0].y }}",
    "{% if a and not b or c %}{% endif %}", "{{ a if b else c if d else e }}",
    "{{ x|e }}{{ x|safe }}", "{{ [1, 2]|first }}", "{{ x is defined and x is sameas false }}",
    "{% set y = x|reject('none')|list %}", "{{ x.strip().split(':')[0] }}",
    "{{ x | replace('a', 'b') | upper }}", "{{ 1 < x < 3 }}", "{{ x == y != z }}",
    "{%- for message in messages -%}\n  {{- message['content'] -}}\n{%- endfor -%}",
]

# Attribute walks a sandbox escape needs, with names spelled so only a parser sees them.
PAYLOADS = [
    "{{ cycler['__in' ~ 'it__']['__glo' ~ 'bals__']['os']['po' ~ 'pen']('id') }}",
    "{{ joiner['__in' + 'it__']['__glo' + 'bals__'] }}",
    "{{ ''['__cla' ~ 'ss__']['__mr' ~ 'o__'][1]['__subcl' ~ 'asses__']() }}",
    "{{ namespace['_' ~ '_init_' ~ '_'] }}",
    "{{ lipsum.__globals__ }}",
]


def names(tree):
    """Constant attribute/item names in the parsed template, folding `~` and `+` of constants."""
    def const(n):
        if isinstance(n, nodes.Const) and isinstance(n.value, str):
            return n.value
        if isinstance(n, (nodes.Concat,)):
            parts = [const(x) for x in n.nodes]
            return None if None in parts else "".join(parts)
        if isinstance(n, nodes.Add):
            a, b = const(n.left), const(n.right)
            return None if a is None or b is None else a + b
        return None
    out = set()
    for n in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(n, nodes.Getattr):
            out.add(n.attr)
        else:
            v = const(n.arg)
            if v is not None:
                out.add(v)
    return sorted(out)


def main():
    args = argparse.ArgumentParser()
    args.add_argument("--scale", type=int, default=1)
    args.add_argument("--seed", type=int, default=11)
    args.add_argument("--out", default=OUT)
    opts = args.parse_args()
    rng = random.Random(opts.seed)
    texts = list(SNIPPETS) + list(PAYLOADS)
    for _ in range(300 * opts.scale):
        parts = rng.sample(SNIPPETS, rng.randrange(1, 4))
        if rng.random() < 0.4:
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(PAYLOADS))
        texts.append(rng.choice(["", "\n"]).join(parts))
    cases = []
    for t in dict.fromkeys(texts):
        try:
            tree = ENV.parse(t)
            cases.append({"t": t, "ok": True, "names": names(tree), "why": None})
        except jinja2.TemplateSyntaxError as e:
            cases.append({"t": t, "ok": False, "names": [], "why": str(e)[:120]})
    path = os.path.join(opts.out, "jinja.jsonl.gz")
    write_cases(path, cases)
    print(f"{path}: {len(cases)} cases ({sum(c['ok'] for c in cases)} parsed by jinja2)")


if __name__ == "__main__":
    main()
