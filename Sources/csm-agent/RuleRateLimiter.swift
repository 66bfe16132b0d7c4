import AgentCore

/// How many matches of one rule may be written, as Datadog's agent limits them: a token bucket per
/// rule (10 per second with a burst of 40 by default; `every: X` is one per X with a burst of 1),
/// and with `limiter_token: [fields]` one bucket per combination of those fields' values.
///
/// Matches held back are counted by the caller, never dropped silently. Buckets per value
/// combination are bounded (`maxKeyedBuckets`): past it the least recently used bucket is reused,
/// which can only let a match through earlier than its own bucket would have, never hold one back.
struct RuleRateLimiter {
    static let defaultRatePerSecond = 10.0
    static let defaultBurst = 40.0
    static let maxKeyedBuckets = 1_024

    /// The rate and burst of a rule without `every`: Datadog's 10 per second with a burst of 40
    /// unless the configuration (`--rate-limit`, `--rate-limit-burst`) says otherwise.
    struct Defaults: Equatable {
        var ratePerSecond = RuleRateLimiter.defaultRatePerSecond
        var burst = RuleRateLimiter.defaultBurst
    }

    struct Bucket {
        var tokens: Double
        var lastNs: UInt64
    }

    /// Tokens per nanosecond.
    let rate: Double
    let burst: Double
    private var single: Bucket
    private let tokenReaders: [FieldValueReader]
    private var keyed: [[UInt8]: Bucket] = [:]
    private var key: [UInt8] = []
    /// Keyed buckets replaced to stay within `maxKeyedBuckets`.
    private(set) var evictions: UInt64 = 0

    /// `every`: nanoseconds between two written matches (nil: the default rate and burst).
    init(everyNs: UInt64?, tokenReaders: [FieldValueReader], defaults: Defaults = Defaults()) {
        if let every = everyNs, every > 0 {
            rate = 1 / Double(every)
            burst = 1
        } else {
            rate = defaults.ratePerSecond / 1e9
            burst = defaults.burst
        }
        single = Bucket(tokens: burst, lastNs: 0)
        self.tokenReaders = tokenReaders
    }

    /// Takes a token for a match at `nowNs` (monotonic); false when the match must be held back.
    /// The context must point at the matching event (limiter tokens are read from it).
    mutating func allow(nowNs: UInt64, context: EvalContext) -> Bool {
        if tokenReaders.isEmpty { return RuleRateLimiter.take(&single, nowNs, rate, burst) }
        key.removeAll(keepingCapacity: true)
        for reader in tokenReaders { reader.append(to: &key, context: context) }
        if var bucket = keyed[key] {
            let allowed = RuleRateLimiter.take(&bucket, nowNs, rate, burst)
            keyed[key] = bucket
            return allowed
        }
        if keyed.count >= RuleRateLimiter.maxKeyedBuckets, let oldest = keyed.min(by: { $0.value.lastNs < $1.value.lastNs })?.key {
            keyed[oldest] = nil
            evictions &+= 1
        }
        var bucket = Bucket(tokens: burst, lastNs: nowNs)
        let allowed = RuleRateLimiter.take(&bucket, nowNs, rate, burst)
        keyed[key] = bucket
        return allowed
    }

    private static func take(_ bucket: inout Bucket, _ nowNs: UInt64, _ rate: Double, _ burst: Double) -> Bool {
        if nowNs > bucket.lastNs {
            bucket.tokens = min(burst, bucket.tokens + Double(nowNs - bucket.lastNs) * rate)
            bucket.lastNs = nowNs
        }
        guard bucket.tokens >= 1 else { return false }
        bucket.tokens -= 1
        return true
    }
}
