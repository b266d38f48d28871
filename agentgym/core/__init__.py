"""The contracts every other wing builds on, with no torch: the text-environment API (``env``,
``spaces``, ``checker``), the registry, the data types of the loop (``types``), the policy protocol,
and the entry-point lookup (``plugins``) through which the core finds the outer packages."""
