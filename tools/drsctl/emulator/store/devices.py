"""Transaction accessors for customers, LwA clients, devices, slots and device reports."""

from .base import TxBase
from .records import Client, Customer, Device, Report, Slot, column_list

_SLOT = f"SELECT {column_list(Slot, 'slots')} FROM slots WHERE device_id = ? AND slot_id = ?"


class DevicesTx(TxBase):
    """Customers, LwA clients, devices and their slots, slotStatus/deviceStatus reports."""

    def insert_customer(self, customer: Customer) -> None:
        """Store a new customer."""
        self._insert("customers", customer)

    def customer(self, customer_id: str) -> Customer | None:
        """Return a customer by id."""
        return self._one(Customer, "SELECT * FROM customers WHERE customer_id = ?", customer_id)

    def customers(self, customer_ids: list[str]) -> dict[str, Customer]:
        """Return customers by id (unknown ids are left out)."""
        marks = ", ".join("?" for _ in customer_ids)
        found = self._all(
            Customer, f"SELECT * FROM customers WHERE customer_id IN ({marks})", *customer_ids
        )
        return {c.customer_id: c for c in found}

    def insert_client(self, client: Client) -> None:
        """Store a new LwA client."""
        self._insert("lwa_clients", client)

    def client(self, client_id: str) -> Client | None:
        """Return an LwA client by id."""
        return self._one(Client, "SELECT * FROM lwa_clients WHERE client_id = ?", client_id)

    def insert_device(self, device: Device, slots: list[Slot]) -> None:
        """Store a new device with its slots."""
        self._insert("devices", device)
        for slot in slots:
            self._insert("slots", slot)

    def device(self, device_id: str) -> Device | None:
        """Return a device (registered or not) by id."""
        return self._one(Device, "SELECT * FROM devices WHERE device_id = ?", device_id)

    def registered_device_by_serial(self, serial: str) -> Device | None:
        """Return the registered device with this serial, if any."""
        return self._one(
            Device,
            "SELECT * FROM devices WHERE serial = ? AND deregistered_at IS NULL",
            serial,
        )

    def deregister_device(self, device_id: str, at: int) -> None:
        """Mark a device unregistered and revoke all its tokens."""
        self._conn.execute(
            "UPDATE devices SET deregistered_at = ? WHERE device_id = ?", (at, device_id)
        )
        self._conn.execute("UPDATE tokens SET revoked = 1 WHERE device_id = ?", (device_id,))

    def slot(self, device_id: str, slot_id: str) -> Slot | None:
        """Return one slot of a device."""
        return self._record(Slot, _SLOT, device_id, slot_id)

    def slots(self, device_id: str) -> list[Slot]:
        """Return a device's slots in id order."""
        return self._all(
            Slot, "SELECT * FROM slots WHERE device_id = ? ORDER BY slot_id", device_id
        )

    def insert_report(self, report: Report) -> None:
        """Store a slotStatus/deviceStatus body."""
        self._insert("reports", report)

    def latest_reports(self, device_id: str) -> list[Report]:
        """Return the newest report per (kind, slot) of a device."""
        return self._all(
            Report,
            "SELECT * FROM reports WHERE id IN (SELECT MAX(id) FROM reports WHERE device_id = ? "
            "GROUP BY kind, slot_id) ORDER BY kind, slot_id",
            device_id,
        )
