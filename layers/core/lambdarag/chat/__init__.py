"""Chat over the knowledge bases: the engine side of the Ollama and OpenAI chat APIs."""
