/// A failure a user can act on, worded as one line: what went wrong and where.
public struct GANError: Error, CustomStringConvertible, Equatable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
