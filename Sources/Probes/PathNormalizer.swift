/// Lexical path clean-up for paths the kernel could not resolve (a failed open's argument): removes
/// empty and `.` components and folds `..`. Symlinks are not consulted: there is no file to follow.
/// Works on kernel texts (`String(kernelBytes:)`) and their concatenations: `/` and `.` are never
/// part of an escape, and the result is made canonical (`String(canonicalKernelText:)`) since the
/// pieces joined may have been escaped apart.
public enum PathNormalizer {
    public static func normalize(_ path: String) -> String {
        guard path.hasPrefix("/") else { return path }
        var parts: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(component)
            }
        }
        return String(canonicalKernelText: "/" + parts.joined(separator: "/"))
    }
}
