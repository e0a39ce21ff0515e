"""LLM layer: groq, openai(-compatible), gemini and offline providers behind a fallback router."""
