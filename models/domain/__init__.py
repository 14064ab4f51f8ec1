"""Domains: what can be said to a tenant's hub, and what it means.

Owns the domain file format (hassil intent YAML + ARMA extensions; docs/domain.md), loading
and validation with typed errors (`loader`, `types`), template expansion (`expand`), word
automata (`fsa`), built-in slot grammars (`builtins`), and compilation into a word graph for
the speech decoder, an exact in-grammar parser and an int8 ONNX intent model (`compiler`,
`compiled`).
"""

from models.domain.builtins import BUILTIN_TYPES, ParseContext
from models.domain.compiled import CompiledDomain
from models.domain.compiler import compile_domain
from models.domain.loader import DOMAINS_DIR, Domain, domain_from_dict, load_domain
from models.domain.types import (
    CatalogError,
    DomainError,
    DomainFileError,
    DomainReferenceError,
    DomainSchemaError,
    DomainTemplateError,
    DomainYamlError,
    SampleSentence,
    Understanding,
    WordGraph,
)

__all__ = [
    "BUILTIN_TYPES",
    "DOMAINS_DIR",
    "CatalogError",
    "CompiledDomain",
    "Domain",
    "DomainError",
    "DomainFileError",
    "DomainReferenceError",
    "DomainSchemaError",
    "DomainTemplateError",
    "DomainYamlError",
    "ParseContext",
    "SampleSentence",
    "Understanding",
    "WordGraph",
    "compile_domain",
    "domain_from_dict",
    "load_domain",
]
