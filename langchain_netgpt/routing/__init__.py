"""The routing runtime: features, scores, the network, the policy, its gates and the executor.

Everything a routed step needs at run time lives here. The front doors (``NetGPTRouter``, the
middleware and the LangGraph node) sit beside this package; the offline parts (``export``,
``learn``, ``bench``) are never imported by it.
"""
