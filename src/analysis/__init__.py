"""5G Buildout Monitor: clean station records, forecast the buildout, map coverage, track planned sites.

Each stage is a module (`sources`, `clean`, `geo`, `forecast`, `coverage`, `maps`,
`pipeline`, `report`, `synth`), wired together by `cli`; paths and city settings live in `config`.
"""

__version__ = "0.1.0"
