"""The demo: a LangGraph agent with real tools, routed edge/cloud under a degrading network."""
