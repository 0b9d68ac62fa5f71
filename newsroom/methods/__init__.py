"""Methods the agents use and that know nothing of the graph: text (sentences, numbers, dates,
entities), sentence embeddings and the vector store, dedup, and the desk profile."""
