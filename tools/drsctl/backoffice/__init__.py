"""The device maker's back office: the seller's side of the orders a device places.

:mod:`.spapi_client` speaks the Selling Partner API (Orders v0) with an LwA seller
application; :mod:`.orders_cli` is ``drsctl orders``.
"""
