"""Entity extraction: taggers, pattern/lookup matchers, value parsers, and post-processing.

Importing this package registers its components (see ``nlu.registry``).
"""

from nlu.entities.crf import CRFEntityExtractor
from nlu.entities.lookup import LookupEntityExtractor
from nlu.entities.merge import merge_entities
from nlu.entities.patterns import RegexEntityExtractor
from nlu.entities.spacy_ner import SpacyNEREntityExtractor
from nlu.entities.synonyms import EntitySynonymMapper
from nlu.entities.values import DucklingEntityExtractor, ValueExtractor

__all__ = [
    "CRFEntityExtractor",
    "DucklingEntityExtractor",
    "EntitySynonymMapper",
    "LookupEntityExtractor",
    "RegexEntityExtractor",
    "SpacyNEREntityExtractor",
    "ValueExtractor",
    "merge_entities",
]
