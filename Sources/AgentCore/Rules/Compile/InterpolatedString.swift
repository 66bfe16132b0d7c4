/// A string literal with `${...}` placeholders, assembled at each read in a buffer the compiled
/// expression owns (grown when a value is longer than any before it, kept between events).
final class InterpolatedString {
    enum Piece {
        case literal([UInt8])
        /// The first value of a string source.
        case string(StringSource)
        /// The first value of an integer source, in decimal.
        case int(IntSource)
        case bool(PredicateBox)
    }

    private let pieces: [Piece]
    private var buffer: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private var count = 0

    init(_ pieces: [Piece]) {
        self.pieces = pieces
        capacity = 64
        buffer = .allocate(capacity: capacity)
    }

    deinit { buffer.deallocate() }

    func read(_ ctx: EvalContext, _ body: StringBody) -> Bool {
        count = 0
        for piece in pieces {
            switch piece {
            case .literal(let bytes): bytes.withUnsafeBufferPointer { append($0) }
            case .string(let read): _ = read(ctx) { append($0); return true }
            case .int(let read): _ = read(ctx) { appendDecimal($0); return true }
            case .bool(let p): p(ctx) ? appendASCII("true") : appendASCII("false")
            }
        }
        return body(UnsafeBufferPointer(start: buffer, count: count))
    }

    private func reserve(_ extra: Int) {
        if count + extra <= capacity { return }
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: max(2 * capacity, count + extra))
        grown.update(from: buffer, count: count)
        buffer.deallocate()
        buffer = grown
        capacity = max(2 * capacity, count + extra)
    }

    private func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        reserve(bytes.count)
        (buffer + count).update(from: base, count: bytes.count)
        count += bytes.count
    }

    private func appendASCII(_ s: StaticString) {
        s.withUTF8Buffer { append($0) }
    }

    private func appendDecimal(_ value: Int64) {
        reserve(20)
        var magnitude = value.magnitude
        if value < 0 {
            buffer[count] = UInt8(ascii: "-")
            count += 1
        }
        var digits = 1
        var probe = magnitude
        while probe >= 10 { probe /= 10; digits += 1 }
        var at = count + digits - 1
        repeat {
            buffer[at] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
            at -= 1
        } while magnitude > 0
        count += digits
    }
}
