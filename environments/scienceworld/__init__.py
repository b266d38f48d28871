"""ScienceWorld's elementary-science tasks on the ``scienceworld`` package's own simulator (a JVM program)."""
