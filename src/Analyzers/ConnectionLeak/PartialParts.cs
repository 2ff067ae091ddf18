// A call to a partial method (or, in C# 14, a partial constructor) binds to its defining declaration, which has no body;
// whatever reads a method's body reads the implementing declaration instead.
using Microsoft.CodeAnalysis;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>The declaration of a method of the compilation that holds its body.</summary>
internal static class PartialParts
{
    /// <summary>
    /// <paramref name="method"/>'s original definition, or, when that is the defining part of a partial method or
    /// constructor that has an implementation (<c>public partial void Dispose();</c> with its body in another part of the
    /// type), the implementing part. A partial method without an implementation is returned as it is.
    /// </summary>
    public static IMethodSymbol WithBody(IMethodSymbol method)
    {
        method = method.OriginalDefinition;
        return method.PartialImplementationPart ?? method;
    }
}
