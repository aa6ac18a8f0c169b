"""Framework adapters, each behind its extra so the core client needs only
httpx: ``engram-client[langgraph]`` (:mod:`.langgraph`),
``engram-client[langchain]`` (:mod:`.langchain`),
``engram-client[llama-index]`` (:mod:`.llama_index`)."""
