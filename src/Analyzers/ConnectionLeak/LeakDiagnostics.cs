// The diagnostics of the flow analysis: TDG001's message names the variable and the path that leaks, TDG004's the use
// or second release and the release it conflicts with; both carry the properties their code fixes read.
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>Turns the leaks and misuses of one acquisition into diagnostics.</summary>
internal static class LeakDiagnostics
{
    public static Diagnostic Create(AcquisitionSite site, IReadOnlyList<Leak> leaks, bool handsOff)
    {
        var leak = leaks
            .OrderBy(l => l.Reason)
            .ThenBy(l => l.At?.SpanStart ?? int.MaxValue)
            .First();
        var syntax = site.Acquiring.Syntax;
        var name = SubjectName(site);
        var subject = site.Summarized is { } summarized
            ? name is not null ? $"'{name}' from {summarized}" : $"The connection from {summarized}"
            : name is not null ? $"'{name}'" : $"The result of '{site.Invocation?.TargetMethod.Name}'";
        var path = leak.Reason switch
        {
            LeakReason.Discarded => "because the result is discarded",
            LeakReason.Overwritten => $"when '{leak.Variable}' is overwritten at line {Line(leak.At, syntax)}",
            LeakReason.AcquiredAgain => $"when it is acquired again at line {Line(leak.At, syntax)}",
            LeakReason.Returns => ReturnPath(leak.At, syntax),
            _ => $"if an exception is thrown at line {Line(leak.At, syntax)}",
        };
        var properties = ImmutableDictionary.CreateRange(new[]
        {
            new KeyValuePair<string, string?>(ConnectionLeakProperties.Kind, site.Kind.ToString()),
            new KeyValuePair<string, string?>(ConnectionLeakProperties.Reason, leak.Reason.ToString()),
            new KeyValuePair<string, string?>(ConnectionLeakProperties.HandsOff, handsOff ? "true" : "false"),
        });
        return Diagnostic.Create(Descriptors.ConnectionNotReleased, syntax.GetLocation(), properties, subject, path);
    }

    /// <summary>
    /// A connection a <c>Parallel</c> loop's <c>localInit</c> acquires and its <c>localFinally</c> does not release. It
    /// is handed on (to the loop's body), so a fix may only release it on failure: the release belongs in
    /// <c>localFinally</c>.
    /// </summary>
    public static Diagnostic CreateForgottenByLocalFinally(IInvocationOperation acquisition, string loop)
    {
        var properties = ImmutableDictionary.CreateRange(new[]
        {
            new KeyValuePair<string, string?>(ConnectionLeakProperties.Kind, AcquisitionKind.Returned.ToString()),
            new KeyValuePair<string, string?>(ConnectionLeakProperties.Reason, LeakReason.Returns.ToString()),
            new KeyValuePair<string, string?>(ConnectionLeakProperties.HandsOff, "true"),
        });
        return Diagnostic.Create(
            Descriptors.ConnectionNotReleased,
            acquisition.Syntax.GetLocation(),
            properties,
            $"The result of '{acquisition.TargetMethod.Name}'",
            $"by the localFinally of {loop}, which receives it from localInit");
    }

    public static Diagnostic Create(AcquisitionSite site, Misuse misuse)
    {
        var at = ReportedNode(misuse.At.Syntax);
        var other = ReportedNode(misuse.Other.Syntax);
        var subject = (misuse.Variable ?? SubjectName(site)) is { } name ? $"'{name}'" : "The connection";
        var released = misuse.Closed ? "closed" : "released";
        var text = misuse.Kind switch
        {
            MisuseKind.UsedAfterRelease => $"is used at line {Line(at, at)} after it was {released} at line {Line(other, other)}",
            MisuseKind.ReleasedAgain => $"is released again at line {Line(at, at)} after it was released at line {Line(other, other)}",
            _ => misuse.Other.IsImplicit
                ? $"is released at line {Line(at, at)} and again by its 'using' at line {Line(other, other)}"
                : $"is released at line {Line(at, at)} and again in the 'finally' at line {Line(other, other)}",
        };
        var properties = ImmutableDictionary.CreateRange(new[]
        {
            new KeyValuePair<string, string?>(UseAfterReleaseProperties.Kind, misuse.Kind.ToString()),
            new KeyValuePair<string, string?>(UseAfterReleaseProperties.Fixable, misuse.Fixable ? "true" : "false"),
        });
        return Diagnostic.Create(Descriptors.ConnectionUsedAfterRelease, at.GetLocation(), new[] { other.GetLocation() }, properties, subject, text);
    }

    /// <summary><c>conn?.Dispose()</c> is reported as a whole, not as its <c>.Dispose()</c> part.</summary>
    private static SyntaxNode ReportedNode(SyntaxNode node) =>
        node.Parent is ConditionalAccessExpressionSyntax conditional && conditional.WhenNotNull == node ? conditional : node;

    private static string ReturnPath(SyntaxNode? at, SyntaxNode fallback)
    {
        for (var node = at; node is not null; node = node.Parent)
        {
            if (node is ReturnStatementSyntax
                || node.Parent is ArrowExpressionClauseSyntax
                || node.Parent is AnonymousFunctionExpressionSyntax lambda && lambda.ExpressionBody == node)
            {
                return $"on the path that returns at line {Line(node, fallback)}";
            }

            if (node is StatementSyntax or AnonymousFunctionExpressionSyntax or MemberDeclarationSyntax)
            {
                break;
            }
        }

        return $"on the path that leaves the method after line {Line(at, fallback)}";
    }

    /// <summary>The variable an object creation or a <c>with</c> expression is stored in.</summary>
    private static string? HolderName(SyntaxNode? created) => created?.Parent switch
    {
        EqualsValueClauseSyntax { Parent: VariableDeclaratorSyntax declarator } => declarator.Identifier.ValueText,
        AssignmentExpressionSyntax { Left: IdentifierNameSyntax identifier } assignment when assignment.Right == created => identifier.Identifier.ValueText,
        _ => null,
    };

    private static int Line(SyntaxNode? node, SyntaxNode fallback) =>
        (node ?? fallback).GetLocation().GetLineSpan().StartLinePosition.Line + 1;

    /// <summary>The variable the resource is stored in, read from the syntax around the call.</summary>
    private static string? SubjectName(AcquisitionSite site)
    {
        var syntax = site.Acquiring.Syntax;
        if (site.Kind == AcquisitionKind.IntoArgument)
        {
            return (site.Anchor as ILocalSymbol)?.Name;
        }

        if (site.Kind == AcquisitionKind.Opened)
        {
            return syntax is InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Expression: IdentifierNameSyntax receiver } }
                ? receiver.Identifier.ValueText
                : null;
        }

        var current = syntax;
        while (true)
        {
            if (current.Parent is AwaitExpressionSyntax or ParenthesizedExpressionSyntax or CastExpressionSyntax)
            {
                current = current.Parent;
            }
            else if (current.Parent is MemberAccessExpressionSyntax { Name.Identifier.ValueText: "ConfigureAwait" or "AsTask" or "Preserve" or "GetAwaiter" or "GetResult" } && current.Parent.Parent is InvocationExpressionSyntax)
            {
                current = current.Parent.Parent!;
            }
            else if (current.Parent is MemberAccessExpressionSyntax { Name.Identifier.ValueText: "Result" } result)
            {
                current = result;
            }
            else if (current.Parent is BinaryExpressionSyntax coalesce && coalesce.IsKind(SyntaxKind.CoalesceExpression) && coalesce.Right == current
                     || current.Parent is ConditionalExpressionSyntax conditional && conditional.Condition != current)
            {
                // 'var conn = _external ?? await OpenAsync()', 'var conn = owned ? Open() : _shared'.
                current = current.Parent;
            }
            else
            {
                break;
            }
        }

        switch (current.Parent)
        {
            case EqualsValueClauseSyntax { Parent: VariableDeclaratorSyntax declarator }:
                return declarator.Identifier.ValueText;
            case AssignmentExpressionSyntax { Left: IdentifierNameSyntax { Identifier.ValueText: not "_" } identifier, Parent: InitializerExpressionSyntax initializer } assignment
                when assignment.Right == current:
                // 'var next = scope with { Lease = ... }', 'new Holder { Lease = ... }': the member of the object built.
                return HolderName(initializer.Parent) is { } holder ? holder + "." + identifier.Identifier.ValueText : null;
            case AssignmentExpressionSyntax { Left: IdentifierNameSyntax { Identifier.ValueText: not "_" } identifier } assignment when assignment.Right == current:
                return identifier.Identifier.ValueText;
            case ArgumentSyntax { Parent: TupleExpressionSyntax tuple } element
                when tuple.Parent is AssignmentExpressionSyntax deconstruction && deconstruction.Right == tuple:
                // 'var (lease, attempts) = (await pool.GetConnectionAsync(), 1)': the variable at the same position.
                var index = tuple.Arguments.IndexOf(element);
                return deconstruction.Left switch
                {
                    DeclarationExpressionSyntax { Designation: ParenthesizedVariableDesignationSyntax designation } when index < designation.Variables.Count
                        => (designation.Variables[index] as SingleVariableDesignationSyntax)?.Identifier.ValueText,
                    TupleExpressionSyntax targets when index < targets.Arguments.Count => targets.Arguments[index].Expression switch
                    {
                        IdentifierNameSyntax name => name.Identifier.ValueText,
                        DeclarationExpressionSyntax { Designation: SingleVariableDesignationSyntax single } => single.Identifier.ValueText,
                        _ => null,
                    },
                    _ => null,
                };
            default:
                return null;
        }
    }
}
