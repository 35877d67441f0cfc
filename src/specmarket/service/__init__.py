"""The market service: operators open sealed-bid rounds of specmarket's one-shot mechanisms,
participants submit reports over HTTP, the round closes and clears with the library's mechanism,
and every step is stored durably (SQLite or PostgreSQL). See ``docs/service.md``.

:func:`specmarket.service.api.create_app` builds the FastAPI app;
:class:`specmarket.service.domain.MarketService` is the lifecycle without HTTP.
"""
