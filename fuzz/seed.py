#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpus (fuzz/corpus/<target>/) from what the project documents:
the YAML blocks of docs/*.md, README.md and examples/, the scenarios/ files, and journal seeds.
Run from anywhere; it replaces files named seed-* only (inputs libFuzzer found are kept)."""
import hashlib, pathlib, re

root = pathlib.Path(__file__).resolve().parent.parent
corpus = root / "fuzz" / "corpus"

def blocks(md):
    return re.findall(r"```ya?ml\n(.*?)```", md.read_text(), re.S)

def write(target, name, text):
    d = corpus / target
    d.mkdir(parents=True, exist_ok=True)
    data = text.encode() if isinstance(text, str) else text
    (d / f"seed-{name}-{hashlib.sha1(data).hexdigest()[:10]}").write_bytes(data)

for d in corpus.glob("*"):
    for f in d.glob("seed-*"):
        f.unlink()

yaml = []
for md in sorted([*root.glob("docs/*.md"), root / "README.md", *root.glob("examples/**/*.md")]):
    yaml += [(md.stem, b) for b in blocks(md)]
for f in sorted([*root.glob("scenarios/*.yaml"), *root.glob("examples/**/*.yaml")]):
    yaml.append((f.stem, f.read_text()))

for name, text in yaml:
    if "targets:" in text and "address:" in text:
        write("inventory", name, text)
    elif re.search(r"^(threshold|floor|measures):", text, re.M) and "steps:" not in text:
        write("thresholds", name, text)
    else:
        write("scenario", name, text)
        if "vars" in text or "matrix" in text or "{{" in text:
            write("matrix", name, text)

write("inventory", "min", "targets:\n  - {name: a, address: managed}\n  - name: b\n    address: ssh://root@h:2222\n    labels: {os: debian}\n")
write("thresholds", "bare", "threshold: 10\nfloor: 0.5\n")
write("thresholds", "measures", "measures:\n  duration: {threshold: 5%}\n  api_back: {floor: 1s}\n  stop: {}\n")
write("inventory", "vm", "targets:\n  - name: b12\n    address: vm:debian-12\n  - {name: v, address: 'vagrant:m1', labels: {}}\n  - {name: local, address: docker}\n")
write("thresholds", "min", "threshold: 25%\nfloor: 20ms\nmeasures:\n  api_back: {threshold: 50%, floor: 5ms}\n")
write("matrix", "min", 'name: m\nvars: {n: 1, s: "5s", b: true}\nmatrix:\n  a: {n: 2}\n  b: {s: 1m}\ncontainers:\n  c: {command: [sh, -c, "exit {{ vars.n }}"], init: "{{ vars.b }}"}\nsteps:\n  - action: {sleep: {duration: "{{ vars.s }}"}}\n  - action: {start: {container: c}}\n    expect:\n      exit_code: "{{vars.n}}"\n')

for f in sorted((root / "harness" / "judge" / "tests" / "journals").glob("*.jsonl")):
    write("journal", f.stem, f.read_bytes())
