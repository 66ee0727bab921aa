# The training tests' labelled project and tiny offered backbone, for launching real runs.
from tests.apps.training.conftest import labeled_project, tiny_bert, tiny_bert_ref  # noqa: F401
