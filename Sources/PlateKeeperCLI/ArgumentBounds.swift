import ArgumentParser

/// Every number given on the command line is bounded here, in `validate()`, before it reaches
/// arithmetic, an allocation or a C call: `--width 99999999999` is a usage error, not a trap.
func require<T: Comparable>(_ value: T, in range: ClosedRange<T>, _ option: String) throws {
    guard range.contains(value) else {
        throw ValidationError("\(option) must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
    }
}
