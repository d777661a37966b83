"""Uploaded RNE files, stored and read back in chunks (never whole in memory; ``rne_upload_chunks``)."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from rights_ledger.adapters.tables import rne_upload_chunks


class UploadStore:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def append(self, upload_id: UUID, seq: int, chunk: bytes) -> None:
        await self.session.execute(
            insert(rne_upload_chunks).values(upload_id=upload_id, seq=seq, chunk=chunk)
        )

    async def chunk(self, upload_id: UUID, seq: int) -> bytes | None:
        """The ``seq``-th chunk of an upload, or None past its last one."""
        found: bytes | None = await self.session.scalar(
            select(rne_upload_chunks.c.chunk).where(
                rne_upload_chunks.c.upload_id == upload_id, rne_upload_chunks.c.seq == seq
            )
        )
        return found

    async def delete(self, upload_id: UUID) -> None:
        await self.session.execute(
            delete(rne_upload_chunks).where(rne_upload_chunks.c.upload_id == upload_id)
        )
