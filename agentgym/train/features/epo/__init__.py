"""EPO's entropy regularisation: the loss term with its entropy history (``regularizer``) and the feature
(``feature``)."""
