import CallRelayCore

/// A value's fields behind one reference, copied only when written while shared: how ``CallEvent``
/// and ``CallParty`` keep theirs, so that copying one (into every batch, entry and sink on an event's
/// way) costs one retain rather than one per string.
///
/// Inlinable throughout, and read through `_read`: otherwise every `event.data.tenant` in another
/// module copied the whole `data` (some forty references) and destroyed it again.
@usableFromInline
struct SharedFields<Fields: Sendable>: Sendable {
    @usableFromInline
    final class Box: @unchecked Sendable {
        // Mutated only through `fields`' `_modify`, which copies it first unless uniquely referenced.
        @usableFromInline var fields: Fields
        @usableFromInline init(_ fields: Fields) { self.fields = fields }
    }

    @usableFromInline var box: Box

    @inlinable
    init(_ fields: Fields) { box = Box(fields) }

    @inlinable
    var fields: Fields {
        _read { yield box.fields }
        _modify {
            if !isKnownUniquelyReferenced(&box) { box = Box(box.fields) }
            yield &box.fields
        }
    }

    /// Whether both hold the same box, which makes their fields equal without comparing them.
    @inlinable
    func isShared(with other: Self) -> Bool { box === other.box }
}
