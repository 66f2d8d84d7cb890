"""The Gradio face: chat, article panel and named API endpoints. No question-answering logic here."""
