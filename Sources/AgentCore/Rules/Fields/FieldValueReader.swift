/// Reads one field's values as text, outside of a compiled expression: the live pipeline keys its
/// per-rule rate limiters by them (`limiter_token`).
///
/// Call `append` only while the context points at an event (inside `RuleSet.forEachMatch`).
public struct FieldValueReader {
    public let field: String
    let accessor: FieldAccessor

    init(field: String, accessor: FieldAccessor) {
        self.field = field
        self.accessor = accessor
    }

    /// Appends every value of the field, each followed by a 0 byte (so that values split
    /// differently never make the same key), to `key`.
    public func append(to key: inout [UInt8], context: EvalContext) {
        switch accessor {
        case .string(let read):
            _ = read(context) { bytes in
                key.append(contentsOf: bytes)
                key.append(0)
                return false
            }
        case .int(let read):
            _ = read(context) { value in
                key.append(contentsOf: String(value).utf8)
                key.append(0)
                return false
            }
        case .bool(let read):
            key.append(read(context) ? 1 : 2)
            key.append(0)
        }
    }
}

extension RuleSet {
    /// A reader of `field` bound to this rule set's field registry (its scratch buffers serve the
    /// reads); nil for an unknown field.
    public func valueReader(for field: String) -> FieldValueReader? {
        guard let spec = registry.lookup(field) else { return nil }
        return FieldValueReader(field: field, accessor: spec.accessor)
    }
}
