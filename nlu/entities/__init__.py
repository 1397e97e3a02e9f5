"""Entity extraction: taggers, pattern/lookup matchers, value parsers, and post-processing."""

from nlu.entities.crf import CRFEntityExtractor
from nlu.entities.merge import merge_entities
from nlu.entities.patterns import RegexEntityExtractor

__all__ = ["CRFEntityExtractor", "RegexEntityExtractor", "merge_entities"]
