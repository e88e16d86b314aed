"""lethe: certified data removal (Guo et al., ICML 2020) for linear and logistic models.

scikit-learn estimators over lethe's Rust core (``lethe._core``):

- :class:`CertifiedLogisticRegression` and :class:`CertifiedRidge`: ``fit``, then
  ``remove(indices)`` returns a :class:`Certificate` for every request;
- :func:`run_experiment` runs a ``lethe.experiment/1`` config held in a dict, as ``lethe run``;
- :func:`load_results` reads a result file into pandas tables.

The distribution is ``lethe-unlearning``; the import name is ``lethe``.
"""

from ._core import LetheError, __version__
from ._certificate import Certificate, CertificateList
from ._estimators import CertifiedLogisticRegression, CertifiedRidge
from ._experiment import Results, load_results, run_experiment
from ._validation import DensifiedWarning

__all__ = [
    "Certificate",
    "CertificateList",
    "CertifiedLogisticRegression",
    "CertifiedRidge",
    "DensifiedWarning",
    "LetheError",
    "Results",
    "__version__",
    "load_results",
    "run_experiment",
]
