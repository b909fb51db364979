"""The examples, shipped with mlplan so that ``mlplan init --quickstart`` can copy one anywhere."""
