// TDG005's fix for a type that owns a connection and is not disposable: it gets IDisposable (or IAsyncDisposable)
// and a method that releases the member.
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Formatting;

namespace TenantDbGuard.CodeFixes.ConnectionOwner;

/// <summary>Makes an owner disposable.</summary>
internal static class MakeDisposableFix
{
    /// <summary>Adds <c>IDisposable</c> (or <c>IAsyncDisposable</c>) and a method that releases the member.</summary>
    public static SyntaxNode? Apply(SyntaxNode root, TypeDeclarationSyntax type, INamedTypeSymbol typeSymbol, OwnerReleaseCall release)
    {
        // A ref struct is disposed by 'using' through its Dispose method alone (an interface needs C# 13), and never awaited.
        var refStruct = typeSymbol.IsRefLikeType;
        var async = !refStruct && release.CanAwait && (!release.CanDispose || typeSymbol.GetMembers().OfType<IMethodSymbol>().Any(m => m.IsAsync));
        if (release.Statement(async) is not { } statement || NameTaken(typeSymbol, async ? "DisposeAsync" : "Dispose")
            || HeaderHasDirectives(type))
        {
            return null;
        }

        var interfaceName = async ? release.Qualified("System", "IAsyncDisposable") : release.Qualified("System", "IDisposable");
        var method = async
            ? SyntaxFactory.ParseMemberDeclaration($"public async {release.Qualified("System.Threading.Tasks", "ValueTask")} DisposeAsync()\n{{\n}}")!
            : SyntaxFactory.ParseMemberDeclaration("public void Dispose()\n{\n}")!;
        // A blank line between the type's last member (it has one at least: the member that owns the connection) and the
        // new method, in the file's own line endings.
        var newLine = root.DescendantTrivia().FirstOrDefault(t => t.IsKind(SyntaxKind.EndOfLineTrivia)).ToString() is { Length: > 0 } found ? found : "\n";
        method = ((MethodDeclarationSyntax)method)
            .WithBody(SyntaxFactory.Block(statement))
            .WithLeadingTrivia(SyntaxFactory.EndOfLine(newLine))
            .WithAdditionalAnnotations(Formatter.Annotation);
        var baseType = SyntaxFactory.SimpleBaseType(SyntaxFactory.ParseTypeName(interfaceName));
        TypeDeclarationSyntax updated;
        if (refStruct)
        {
            updated = type;
        }
        else if (type.BaseList is null)
        {
            // The base list goes where the line ended: after the name, its type parameters or its parameters.
            var last = type.ParameterList?.CloseParenToken ?? type.TypeParameterList?.GreaterThanToken ?? type.Identifier;
            updated = type.ReplaceToken(last, last.WithTrailingTrivia())
                .WithBaseList(SyntaxFactory.BaseList(SyntaxFactory.SingletonSeparatedList<BaseTypeSyntax>(baseType)).WithTrailingTrivia(last.TrailingTrivia)
                    .WithAdditionalAnnotations(Formatter.Annotation));
        }
        else
        {
            updated = type.WithBaseList(type.BaseList.AddTypes(baseType).WithAdditionalAnnotations(Formatter.Annotation));
        }

        // Only what the fix writes is formatted: the rest of the type stays as its author laid it out.
        updated = updated.AddMembers((MemberDeclarationSyntax)method);
        return root.ReplaceNode(type, updated);
    }

    /// <summary>
    /// Is there a directive between the type's name and its opening brace (a base list under <c>#if</c>)? The base list
    /// the fix writes could then be a second one in another build.
    /// </summary>
    private static bool HeaderHasDirectives(TypeDeclarationSyntax type) =>
        type.DescendantTrivia(
                Microsoft.CodeAnalysis.Text.TextSpan.FromBounds(type.Identifier.SpanStart, type.OpenBraceToken.Span.End))
            .Any(AuthorTrivia.IsDirectiveOrHiddenCode);

    /// <summary>
    /// Whether the type or a base type already has a member of that name: the new method would clash with it (a property,
    /// CS0102), hide it (a base type's <c>Dispose()</c> that callers reach today, CS0108) or stand beside it without
    /// calling it (a <c>Dispose(bool)</c> that derived types override). No fix is safer than any of those.
    /// </summary>
    private static bool NameTaken(INamedTypeSymbol type, string name)
    {
        for (var current = type; current is not null; current = current.BaseType)
        {
            if (current.GetMembers(name).Any(m => SymbolEqualityComparer.Default.Equals(current, type) || m.DeclaredAccessibility != Accessibility.Private))
            {
                return true;
            }
        }

        return false;
    }
}
