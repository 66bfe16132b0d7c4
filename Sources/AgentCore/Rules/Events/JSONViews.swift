/// Typed reads of the values of a `JSONDocument`, for `EventJSONReader`. A value of the wrong type
/// is an error naming its path in the line (`process.pid: expected an integer, got the string "5"`);
/// a missing key or `null` is no value (the reader's default applies). Paths are worked out only for
/// a message (`JSONDocument.path(of:)`): views are a document and a node index, nothing to build.
struct JSONObjectView {
    let doc: JSONDocument
    let node: Int

    init(_ doc: JSONDocument, _ node: Int) {
        self.doc = doc
        self.node = node
    }

    // MARK: - Keys

    /// The value node of `key`; nil when the key is absent or its value is `null`.
    @inline(__always)
    func value(_ key: StaticString) -> Int? {
        key.withUTF8Buffer { find($0) }
    }

    func value(named key: String) -> Int? {
        var key = key
        return key.withUTF8 { find($0) }
    }

    /// A linear search: objects have at most about 30 members, and most keys differ from the one
    /// searched in length, which is compared first.
    private func find(_ key: UnsafeBufferPointer<UInt8>) -> Int? {
        let end = Int(doc.nodes[node].next)
        var i = node + 1
        while i < end {
            let valueIndex = i + 1
            if doc.stringEquals(i, key) { return doc.nodes[valueIndex].kind == .null ? nil : valueIndex }
            i = Int(doc.nodes[valueIndex].next)
        }
        return nil
    }

    /// Calls `body` with each key (its node) and value node, in order.
    func forEachMember(_ body: (Int, Int) throws -> Void) rethrows {
        let end = Int(doc.nodes[node].next)
        var i = node + 1
        while i < end {
            try body(i, i + 1)
            i = Int(doc.nodes[i + 1].next)
        }
    }

    // MARK: - Values

    func string(_ key: StaticString) throws -> String? {
        guard let v = value(key) else { return nil }
        return try doc.stringValue(v)
    }

    func string(named key: String) throws -> String? {
        guard let v = value(named: key) else { return nil }
        return try doc.stringValue(v)
    }

    func integer<T: FixedWidthInteger>(_ key: StaticString, _ type: T.Type) throws -> T? {
        guard let v = value(key) else { return nil }
        return try doc.integerValue(v, T.self)
    }

    func bool(_ key: StaticString) throws -> Bool? {
        guard let v = value(key) else { return nil }
        switch doc.nodes[v].kind {
        case .true: return true
        case .false: return false
        default: throw doc.error(at: v, "expected true or false, got \(doc.describe(v))")
        }
    }

    func object(_ key: StaticString) throws -> JSONObjectView? {
        guard let v = value(key) else { return nil }
        return try doc.objectValue(v)
    }

    func object(named key: String) throws -> JSONObjectView? {
        guard let v = value(named: key) else { return nil }
        return try doc.objectValue(v)
    }

    func array(_ key: StaticString) throws -> JSONArrayView? {
        guard let v = value(key) else { return nil }
        guard doc.nodes[v].kind == .array else { throw doc.error(at: v, "expected an array, got \(doc.describe(v))") }
        return JSONArrayView(doc: doc, node: v)
    }

    /// An RFC 3339 time (`2024-05-01T12:00:00.123456789Z`) as nanoseconds since the epoch.
    func time(_ key: StaticString) throws -> UInt64? {
        guard let v = value(key) else { return nil }
        guard doc.nodes[v].kind == .string else { throw doc.error(at: v, "expected an RFC 3339 time, got \(doc.describe(v))") }
        guard !doc.nodes[v].flag, let ns = EventJSONReader.rfc3339(doc.bytes(v)) else {
            throw doc.error(at: v, "\(doc.describe(v)) is not an RFC 3339 time")
        }
        return ns
    }

    /// An array of strings as a `StringList`, copied straight from the line's bytes.
    func strings(_ key: StaticString) throws -> StringList? {
        guard let array = try array(key) else { return nil }
        var list = StringList()
        try array.forEach { element in
            guard doc.nodes[element].kind == .string else { throw doc.error(at: element, "expected a string, got \(doc.describe(element))") }
            do {
                try doc.withStringBytes(element) { list.append(validUTF8: $0) }
            } catch {
                throw doc.error(at: element, "invalid \\u escape")
            }
        }
        return list
    }

    /// A constant the serializer writes as a name (`SIGKILL`, `PROT_READ|PROT_EXEC`): `parse` reads
    /// the name; a number is taken as the value itself. A name `parse` does not know is an error.
    func named<T: FixedWidthInteger>(_ key: StaticString, _ what: String, _ parse: (Substring) -> T?) throws -> T? {
        guard let v = value(key) else { return nil }
        return try doc.namedValue(v, what, parse)
    }

    /// An address the serializer writes as a hex string (`"0x7ffd1234"`); a number is read too.
    func address(_ key: StaticString) throws -> UInt64? {
        try named(key, "address") { hexValue($0) }
    }
}

/// The elements of one array of a `JSONDocument`.
struct JSONArrayView {
    let doc: JSONDocument
    let node: Int

    /// Calls `body` with each element's node, in order.
    func forEach(_ body: (Int) throws -> Void) rethrows {
        let end = Int(doc.nodes[node].next)
        var i = node + 1
        while i < end {
            try body(i)
            i = Int(doc.nodes[i].next)
        }
    }

    /// The node of the first element, nil when empty.
    var first: Int? { Int(doc.nodes[node].next) == node + 1 ? nil : node + 1 }
}

extension JSONDocument {
    /// An error about node `index`, prefixed with its path in the line.
    func error(at index: Int, _ message: String) -> EventJSONReader.ReadError {
        EventJSONReader.ReadError(message: "\(path(of: index)): \(message)")
    }

    /// The path of node `index` from the top (`process.ancestors[2].credentials.uid`): a walk down
    /// the containers that hold it, for messages only.
    func path(of index: Int) -> String {
        var path = ""
        var container = 0
        while container != index {
            let node = nodes[container]
            guard node.kind == .object || node.kind == .array else { break }
            var child = container + 1
            var position = 0
            var found = false
            while child < Int(node.next) {
                let value = node.kind == .object ? child + 1 : child
                let after = Int(nodes[value].next)
                if index >= (node.kind == .object ? child : value) && index < after {
                    if node.kind == .object {
                        let key = (try? string(child)) ?? "?"
                        path += path.isEmpty ? key : "." + key
                    } else {
                        path += "[\(position)]"
                    }
                    container = value
                    found = true
                    break
                }
                child = after
                position += 1
            }
            if !found { break }
        }
        return path.isEmpty ? "(line)" : path
    }

    /// `a boolean`, `the number 5`, `the string "x"`, `an object`, ... for messages (long texts are cut).
    func describe(_ index: Int) -> String {
        func excerpt() -> String {
            let b = bytes(index)
            let text = String(decoding: b.prefix(40), as: UTF8.self)
            return b.count > 40 ? text + "..." : text
        }
        switch nodes[index].kind {
        case .null: return "null"
        case .true, .false: return "a boolean"
        case .number: return "the number \(excerpt())"
        case .string: return "the string \"\(excerpt())\""
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    func stringValue(_ v: Int) throws -> String {
        guard nodes[v].kind == .string else { throw error(at: v, "expected a string, got \(describe(v))") }
        do { return try string(v) } catch { throw self.error(at: v, "invalid \\u escape") }
    }

    func integerValue<T: FixedWidthInteger>(_ v: Int, _ type: T.Type) throws -> T {
        guard nodes[v].kind == .number else { throw error(at: v, "expected an integer, got \(describe(v))") }
        guard let n = integer(v, as: T.self) else { throw error(at: v, "\(describe(v)) is not an integer in \(T.min)...\(T.max)") }
        return n
    }

    func objectValue(_ v: Int) throws -> JSONObjectView {
        guard nodes[v].kind == .object else { throw error(at: v, "expected an object, got \(describe(v))") }
        return JSONObjectView(self, v)
    }

    func namedValue<T: FixedWidthInteger>(_ v: Int, _ what: String, _ parse: (Substring) -> T?) throws -> T {
        switch nodes[v].kind {
        case .number:
            return try integerValue(v, T.self)
        case .string:
            let name = try stringValue(v)
            guard let value = parse(Substring(name)) else { throw error(at: v, "unknown \(what) \"\(name)\"") }
            return value
        default:
            throw error(at: v, "expected \(what == "address" ? "a hex string" : "a name") or an integer, got \(describe(v))")
        }
    }
}
