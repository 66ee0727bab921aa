"""One builder per export kind: its columns, and its rows keyed by prompt for the split.

Column names follow TRL where TRL has a format (prompt/chosen/rejected, prompt/completion/label);
ids of the prompt, task, responses and judgment follow, so a row can be traced back.
Skipped judgments are counted in `stats.skipped` by reason, never silently dropped.
"""

from apps.exports.kinds.binary import build_principles, build_unpaired
from apps.exports.kinds.chat import REACTION_LABELS, build_reactions
from apps.exports.kinds.judgments import build_hindsight, build_listwise, build_raw
from apps.exports.kinds.pairs import (
    build_hindsight_pairs,
    build_pairs,
    hindsight_pairs_jsonl_lines,
    pairs_jsonl_lines,
)
from apps.exports.kinds.rewrites import build_edit_pairs, build_sft, build_sft_messages
from apps.exports.models import ExportKind

BUILDERS = {
    ExportKind.PAIRS: build_pairs,
    ExportKind.HINDSIGHT_PAIRS: build_hindsight_pairs,
    ExportKind.UNPAIRED: build_unpaired,
    ExportKind.PRINCIPLES: build_principles,
    ExportKind.LISTWISE: build_listwise,
    ExportKind.HINDSIGHT: build_hindsight,
    ExportKind.REACTIONS: build_reactions,
    ExportKind.RAW: build_raw,
    ExportKind.SFT: build_sft,
    ExportKind.SFT_MESSAGES: build_sft_messages,
    ExportKind.EDIT_PAIRS: build_edit_pairs,
}

# Kinds that also write their JSON Lines directly (faster, the same bytes), for some options:
# each returns the lines as UTF-8 blocks, or None where the options take the rows through the
# writers.
LINE_BUILDERS = {
    ExportKind.PAIRS: pairs_jsonl_lines,
    ExportKind.HINDSIGHT_PAIRS: hindsight_pairs_jsonl_lines,
}

__all__ = ["BUILDERS", "LINE_BUILDERS", "REACTION_LABELS"]
