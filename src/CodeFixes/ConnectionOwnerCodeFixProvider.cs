using System.Collections.Generic;
using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Formatting;
using Microsoft.CodeAnalysis.Operations;
using TenantDbGuard.Analyzers;
using TenantDbGuard.Analyzers.ConnectionLeak;
using TenantDbGuard.CodeFixes.ConnectionOwner;

namespace TenantDbGuard.CodeFixes;

/// <summary>
/// Fixes TDG005 where that is safe: releases the owned field or property in the type's <c>Dispose</c>/<c>DisposeAsync</c>
/// in a <c>finally</c> (after whatever else the method disposes), or makes the type <c>IDisposable</c> (or
/// <c>IAsyncDisposable</c>, for an async owner of an async-disposable connection) with a method that releases it. Not
/// offered when the method releases the member under a condition or returns early (a re-entrancy counter, a
/// <c>Dispose(bool)</c> split), for a constructor that throws, for a type disposable only through its base type, or for a
/// connection the type was given by its caller and only opens.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(ConnectionOwnerCodeFixProvider))]
[Shared]
public sealed class ConnectionOwnerCodeFixProvider : CodeFixProvider
{
    /// <summary>The equivalence key of the fix, so that Fix All releases every owned member in one pass.</summary>
    public const string ReleaseInDisposeKey = "TDG005.ReleaseInDispose";

    private static readonly FixAllProvider FixAll = FixAllProvider.Create(FixAllInDocumentAsync);

    /// <inheritdoc />
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create(DiagnosticIds.OwnerDoesNotRelease);

    /// <inheritdoc />
    public override FixAllProvider GetFixAllProvider() => FixAll;

    /// <inheritdoc />
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var document = context.Document;
        var root = await document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        var model = await document.GetSemanticModelAsync(context.CancellationToken).ConfigureAwait(false);
        if (root is null || model is null)
        {
            return;
        }

        foreach (var diagnostic in context.Diagnostics)
        {
            if (!IsFixable(diagnostic) || FindMember(root, diagnostic) is not { } member
                || Fix(model, root, member, diagnostic, context.CancellationToken) is not { } fixedRoot)
            {
                continue;
            }

            var name = MemberName(member);
            var title = diagnostic.Properties[ConnectionOwnerProperties.Problem] == ConnectionOwnerProperties.NotDisposable
                ? $"Make the type disposable and release '{name}'"
                : $"Release '{name}' in a finally";
            context.RegisterCodeFix(
                CodeAction.Create(title, cancellationToken => LineEnds.FormatAsync(document.WithSyntaxRoot(fixedRoot), root, cancellationToken), ReleaseInDisposeKey),
                diagnostic);
        }
    }

    private static bool IsFixable(Diagnostic diagnostic) =>
        diagnostic.Properties.TryGetValue(ConnectionOwnerProperties.Problem, out var problem)
        && (problem == ConnectionOwnerProperties.NotDisposable
            || problem == ConnectionOwnerProperties.ReleaseMethod && diagnostic.Properties.TryGetValue(ConnectionOwnerProperties.Method, out var method) && method is "Dispose" or "DisposeAsync");

    /// <summary>The declarator of the field, or the property declaration, the diagnostic is on.</summary>
    private static SyntaxNode? FindMember(SyntaxNode root, Diagnostic diagnostic)
    {
        var node = root.FindToken(diagnostic.Location.SourceSpan.Start).Parent;
        return node is VariableDeclaratorSyntax or PropertyDeclarationSyntax ? node : null;
    }

    private static string MemberName(SyntaxNode member) =>
        member is VariableDeclaratorSyntax declarator ? declarator.Identifier.ValueText : ((PropertyDeclarationSyntax)member).Identifier.ValueText;

    /// <summary>The root with the member released by its type, or null when no safe change is known.</summary>
    private static SyntaxNode? Fix(SemanticModel model, SyntaxNode root, SyntaxNode member, Diagnostic diagnostic, CancellationToken cancellationToken)
    {
        if (member.FirstAncestorOrSelf<TypeDeclarationSyntax>() is not { } type
            || model.GetDeclaredSymbol(member, cancellationToken) is not { } symbol
            || model.GetDeclaredSymbol(type, cancellationToken) is not { } typeSymbol)
        {
            return null;
        }

        if (GivenByCaller(typeSymbol, symbol, member, model.Compilation, cancellationToken))
        {
            // The connection object is the caller's ('Connection = connection', 'Check.NotNull(connection)'); the type only
            // opens it. Disposing it would take it from a caller that may still use it.
            return null;
        }

        var release = new OwnerReleaseCall(symbol, MemberName(member), root);
        diagnostic.Properties.TryGetValue(ConnectionOwnerProperties.Method, out var preferred);
        // The type's own Dispose, in whichever part of a partial type declares it: the one the diagnostic names when the
        // type has both (a type with neither is the one a diagnostic without a method is about).
        var dispose = typeSymbol.GetMembers().OfType<IMethodSymbol>()
            .Where(m => m.MethodKind == MethodKind.Ordinary && !m.IsStatic && m.Parameters.IsEmpty && m.Name is "Dispose" or "DisposeAsync")
            .OrderBy(m => m.Name == preferred ? 0 : 1)
            .FirstOrDefault();
        if (dispose is not null)
        {
            // Declared in another file: this document's fix cannot change it.
            // A partial Dispose is changed in the part that has its body.
            return PartialParts.WithBody(dispose).DeclaringSyntaxReferences
                       .Where(r => r.SyntaxTree == root.SyntaxTree)
                       .Select(r => r.GetSyntax(cancellationToken))
                       .OfType<MethodDeclarationSyntax>()
                       .FirstOrDefault() is { } method
                   && !ReleasesThroughItsOwnMethods(model, method, typeSymbol, MemberName(member), cancellationToken)
                   && ReleaseInFinallyFix.Apply(model, method, release, cancellationToken) is { } rewritten
                ? root.ReplaceNode(method, rewritten)
                : null;
        }

        if (typeSymbol.AllInterfaces.Any(i => i.Name is "IDisposable" or "IAsyncDisposable"))
        {
            // Disposable through a base type: its Dispose is not this type's to change.
            return null;
        }

        if (StoredByBenchmarkSetup(typeSymbol, symbol, model.Compilation, cancellationToken))
        {
            // BenchmarkDotNet pairs [GlobalSetup] with [GlobalCleanup] and never disposes a benchmark: a Dispose would not run.
            return null;
        }

        return MakeDisposableFix.Apply(root, type, typeSymbol, release);
    }

    /// <summary>
    /// Does <paramref name="dispose"/> call a method of <paramref name="type"/> (or of a base type in source) whose body,
    /// or that of a method it calls in turn, releases the member (<c>Dispose() { Dispose(true); }</c>,
    /// <c>Dispose() =&gt; DisposeCore();</c>)? A release added to its <c>finally</c> would then release the member a second
    /// time on every normal path.
    /// </summary>
    private static bool ReleasesThroughItsOwnMethods(SemanticModel model, MethodDeclarationSyntax dispose, INamedTypeSymbol type, string member, CancellationToken cancellationToken)
    {
        var seen = new HashSet<IMethodSymbol>(SymbolEqualityComparer.Default);
        var pending = new Stack<(SyntaxNode Body, SemanticModel Model)>();
        pending.Push((dispose, model));
        while (pending.Count > 0)
        {
            var (body, bodyModel) = pending.Pop();
            foreach (var invocation in body.DescendantNodes().OfType<InvocationExpressionSyntax>())
            {
                if (bodyModel.GetSymbolInfo(invocation, cancellationToken).Symbol is not IMethodSymbol { IsStatic: false } called
                    || !AcquisitionRules.DerivesFrom(type, called.ContainingType)
                    || !seen.Add(called.OriginalDefinition))
                {
                    continue;
                }

                foreach (var reference in PartialParts.WithBody(called).DeclaringSyntaxReferences)
                {
                    var declaration = reference.GetSyntax(cancellationToken);
                    if (declaration.DescendantNodes().Any(node => ConstructorReading.IsReleaseOf(node, member)))
                    {
                        return true;
                    }

                    pending.Push((declaration, bodyModel.Compilation.GetSemanticModel(declaration.SyntaxTree)));
                }
            }
        }

        return false;
    }

    /// <summary>
    /// Is <paramref name="member"/> given its connection by a caller: assigned (or initialized with) a parameter, a
    /// parameter '?? throw', or a call that takes such a parameter and returns it ('Check.NotNull(connection, ...)')?
    /// </summary>
    private static bool GivenByCaller(INamedTypeSymbol type, ISymbol member, SyntaxNode declaration, Compilation compilation, CancellationToken cancellationToken)
    {
        var memberType = member switch
        {
            IFieldSymbol field => field.Type,
            IPropertySymbol property => property.Type,
            _ => null,
        };
        if (memberType is null)
        {
            return false;
        }

        var initializer = declaration switch
        {
            VariableDeclaratorSyntax declarator => declarator.Initializer?.Value,
            PropertyDeclarationSyntax property => property.Initializer?.Value,
            _ => null,
        };
        if (initializer is not null && FromParameter(compilation.GetSemanticModel(initializer.SyntaxTree).GetOperation(initializer, cancellationToken), memberType, compilation))
        {
            return true;
        }

        foreach (var reference in type.DeclaringSyntaxReferences)
        {
            var model = compilation.GetSemanticModel(reference.SyntaxTree);
            foreach (var assignment in reference.GetSyntax(cancellationToken).DescendantNodes().OfType<AssignmentExpressionSyntax>())
            {
                if (SymbolEqualityComparer.Default.Equals(model.GetSymbolInfo(assignment.Left, cancellationToken).Symbol, member)
                    && FromParameter(model.GetOperation(assignment.Right, cancellationToken), memberType, compilation))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static bool FromParameter(IOperation? value, ITypeSymbol memberType, Compilation compilation)
    {
        return TrackedVariables.Unwrap(value) switch
        {
            IParameterReferenceOperation => true,
            ICoalesceOperation coalesce => FromParameter(coalesce.Value, memberType, compilation),
            IInvocationOperation invocation => invocation.Arguments.Any(argument =>
                TrackedVariables.Unwrap(argument.Value) is IParameterReferenceOperation parameter && compilation.HasImplicitConversion(parameter.Type, memberType)),
            _ => false,
        };
    }

    /// <summary>Is the member stored by a method that a benchmark runner calls as its setup (or by an override of one)?</summary>
    private static bool StoredByBenchmarkSetup(INamedTypeSymbol type, ISymbol member, Compilation compilation, CancellationToken cancellationToken)
    {
        foreach (var method in type.GetMembers().OfType<IMethodSymbol>())
        {
            var setup = false;
            for (var current = method; current is not null && !setup; current = current.OverriddenMethod)
            {
                setup = current.GetAttributes().Any(a => a.AttributeClass?.Name is "GlobalSetupAttribute" or "IterationSetupAttribute");
            }

            if (setup && PartialParts.WithBody(method).DeclaringSyntaxReferences.Any(reference => reference.GetSyntax(cancellationToken).DescendantNodes().OfType<AssignmentExpressionSyntax>()
                    .Any(assignment => SymbolEqualityComparer.Default.Equals(
                        compilation.GetSemanticModel(assignment.SyntaxTree).GetSymbolInfo(assignment.Left, cancellationToken).Symbol, member))))
            {
                return true;
            }
        }

        return false;
    }

    private static async Task<Document?> FixAllInDocumentAsync(FixAllContext context, Document document, ImmutableArray<Diagnostic> diagnostics)
    {
        var cancellationToken = context.CancellationToken;
        var root = await document.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false);
        if (root is null)
        {
            return document;
        }

        var before = root;

        // Mark every member first: each fix rewrites its type, and the marks find the other members again.
        var marks = new Dictionary<SyntaxNode, (SyntaxAnnotation Mark, Diagnostic Diagnostic)>();
        foreach (var diagnostic in diagnostics.OrderBy(d => d.Location.SourceSpan.Start))
        {
            if (IsFixable(diagnostic) && FindMember(root, diagnostic) is { } member && !marks.ContainsKey(member))
            {
                marks.Add(member, (new SyntaxAnnotation(), diagnostic));
            }
        }

        root = root.ReplaceNodes(marks.Keys, (original, rewritten) => rewritten.WithAdditionalAnnotations(marks[original].Mark));
        document = document.WithSyntaxRoot(root);
        foreach (var (mark, diagnostic) in marks.Values)
        {
            root = (await document.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false))!;
            var model = await document.GetSemanticModelAsync(cancellationToken).ConfigureAwait(false);
            if (model is not null && root.GetAnnotatedNodes(mark).FirstOrDefault() is { } member && Fix(model, root, member, diagnostic, cancellationToken) is { } fixedRoot)
            {
                document = document.WithSyntaxRoot(fixedRoot);
            }
        }

        return await LineEnds.FormatAsync(document, before, cancellationToken).ConfigureAwait(false);
    }
}
