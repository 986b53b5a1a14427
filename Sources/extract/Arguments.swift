import ArgumentParser
import Backbones
import Features
import Heads
import Images

// The closed sets of choices the command line takes, parsed straight into the library's types:
// a value outside the set is a usage error (exit 64) listing the choices, and no string is
// checked again later.

extension GlobalPooling: ExpressibleByArgument {}
extension Interpolation: ExpressibleByArgument {}
extension ResizeMethod: ExpressibleByArgument {}
extension PreprocessMode: ExpressibleByArgument {}
extension ClassifierKind: ExpressibleByArgument {}

extension InputSize: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}
