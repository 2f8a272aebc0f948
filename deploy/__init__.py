"""Running the assistant as several processes: PostgreSQL, Redis, Rasa servers, nginx."""
