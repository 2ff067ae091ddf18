using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Formatting;
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace TenantDbGuard.CodeFixes.ConnectionLeak;

/// <summary>
/// Acquisitions whose task is awaited later: the fix releases the awaited connection, never the task.
/// <c>var pending = pool.GetConnectionAsync(); ...; var c = await pending;</c> becomes <c>...; var c = await
/// pool.GetConnectionAsync();</c> (then <c>c</c> is fixed like any connection), and the connections of
/// <c>await Task.WhenAll(...)</c> are released in a <c>finally</c> from their tasks, so that one failed acquisition
/// does not lose the others.
/// </summary>
internal static class AwaitedLaterFix
{
    /// <summary>
    /// The rewrite that moves the acquisition to its <c>await</c>, or <c>null</c> when moving it could change what the code
    /// does: the task is used elsewhere, the statements in between change what the call reads, or the call's
    /// arguments do work of their own.
    /// </summary>
    /// <param name="usingDeclaration">Whether the awaited connection is declared by a <c>using</c> (<c>true</c> for
    /// <c>await using</c>), which then releases it: the move is the whole fix; <c>null</c> when it is not.</param>
    public static Func<SyntaxNode, SyntaxNode>? MergePending(SemanticModel model, LocalDeclarationStatementSyntax pendingDeclaration, ILocalSymbol pending, ExpressionSyntax acquisition, out bool? usingDeclaration)
    {
        usingDeclaration = null;
        if (pendingDeclaration.Parent is not BlockSyntax block || !IsSimpleCall(acquisition))
        {
            return null;
        }

        var function = FunctionContext.Of(pendingDeclaration)?.Node;
        var uses = function is null ? new List<IdentifierNameSyntax>() : Statements.Uses(model, function, pending).Where(u => u.Parent is not VariableDeclaratorSyntax).ToList();
        if (uses.Count != 1 || Awaited(uses[0]) is not { } awaited
            || awaited.Parent is not EqualsValueClauseSyntax { Parent: VariableDeclaratorSyntax { Parent: VariableDeclarationSyntax { Variables.Count: 1, Parent: LocalDeclarationStatementSyntax awaitedDeclaration } } }
            || awaitedDeclaration.Parent != block)
        {
            return null;
        }

        var from = block.Statements.IndexOf(pendingDeclaration);
        var to = block.Statements.IndexOf(awaitedDeclaration);
        var window = block.Statements.Skip(from + 1).Take(to - from - 1).ToList();
        var read = acquisition.DescendantNodesAndSelf().OfType<IdentifierNameSyntax>().Select(id => model.GetSymbolInfo(id).Symbol).Where(s => s is ILocalSymbol or IParameterSymbol or IFieldSymbol or IPropertySymbol).ToList();
        if (window.Any(s => s.DescendantNodesAndSelf().Any(n => n is YieldStatementSyntax or LabeledStatementSyntax))
            || window.SelectMany(s => s.DescendantNodesAndSelf()).Any(n => Writes(model, n, read)))
        {
            return null;
        }

        usingDeclaration = awaitedDeclaration.UsingKeyword.IsKind(SyntaxKind.UsingKeyword) ? awaitedDeclaration.AwaitKeyword.IsKind(SyntaxKind.AwaitKeyword) : null;
        return root =>
        {
            var currentBlock = Statements.Find(root, block);
            var currentAwaited = currentBlock.Statements[to];
            var use = currentAwaited.DescendantNodes().OfType<IdentifierNameSyntax>().First(id => id.Span == uses[0].Span);
            var merged = currentAwaited.ReplaceNode(use, acquisition.WithTriviaFrom(use).WithAdditionalAnnotations(LeakFixPlanner.Moved));
            var statements = currentBlock.Statements.Replace(currentAwaited, merged);
            var removed = CallStatement.RemoveAt(currentBlock.WithStatements(statements), from);
            return root.ReplaceNode(currentBlock, removed);
        };
    }

    /// <summary>
    /// <c>var conns = await Task.WhenAll(a, b);</c>: the tasks go into an array first, and a <c>finally</c> releases the
    /// result of every task that completed, whether or not the others failed.
    /// </summary>
    public static void AddWhenAll(ReleaseChooser chooser, InvocationExpressionSyntax whenAll, ImmutableArray<LeakFix>.Builder fixes)
    {
        var model = chooser.Model;
        if (Statements.OutermostValue(whenAll) is not { Parent: EqualsValueClauseSyntax { Parent: VariableDeclaratorSyntax { Parent: VariableDeclarationSyntax { Variables.Count: 1, Parent: LocalDeclarationStatementSyntax declaration } } declarator } } value
            || value is not AwaitExpressionSyntax and not InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Expression: AwaitExpressionSyntax } }
            || declaration.Parent is not BlockSyntax block
            || model.GetDeclaredSymbol(declarator) is not ILocalSymbol results
            || results.Type is not IArrayTypeSymbol { ElementType: var element }
            || whenAll.ArgumentList.Arguments.Count < 2
            || whenAll.ArgumentList.Arguments.Any(a => model.GetTypeInfo(a.Expression).Type is not INamedTypeSymbol { Name: "Task", IsGenericType: true }))
        {
            return;
        }

        // The connections may only be read from the array, never handed on.
        var function = chooser.Context.Node;
        if (Statements.Uses(model, function, results).Any(u => u.Parent is not (ElementAccessExpressionSyntax or ForEachStatementSyntax)
                                                              && u.Parent is not MemberAccessExpressionSyntax { Name.Identifier.ValueText: "Length" }))
        {
            return;
        }

        var start = block.Statements.IndexOf(declaration);
        var end = Statements.LastStatementUsing(model, block, start + 1, results);
        var region = block.Statements.Skip(start + 1).Take(end - start).ToList();
        var releases = region.Where(s => ReleasesElements(chooser, s, results)).ToList();
        if (region.Where(s => !releases.Contains(s)).Any(s => MayReleaseAnElement(model, chooser, s, element)))
        {
            // A release the fix does not take out (in a loop that does more, under a condition, through another name)
            // would give a connection back a second time in the finally.
            return;
        }

        var tasks = Statements.UniqueName(model, declaration.SpanStart, "acquisitions");
        var task = Statements.UniqueName(model, declaration.SpanStart, "acquisition");
        var result = MemberAccessExpression(SyntaxKind.SimpleMemberAccessExpression, IdentifierName(task), IdentifierName("Result"));
        var release = chooser.ChooseFor(element, result, declaration, ReleaseNeeds.GiveUp);
        if (release is null)
        {
            return;
        }

        var completed = model.Compilation.GetTypeByMetadataName("System.Threading.Tasks.Task")?.GetMembers("IsCompletedSuccessfully").Any() == true
            ? (ExpressionSyntax)MemberAccessExpression(SyntaxKind.SimpleMemberAccessExpression, IdentifierName(task), IdentifierName("IsCompletedSuccessfully"))
            : BinaryExpression(SyntaxKind.EqualsExpression, MemberAccessExpression(SyntaxKind.SimpleMemberAccessExpression, IdentifierName(task), IdentifierName("Status")), ParseExpression("System.Threading.Tasks.TaskStatus.RanToCompletion"));

        fixes.Add(LeakFix.ReleaseInFinally(root =>
        {
            var currentBlock = Statements.Find(root, block);
            var arguments = whenAll.ArgumentList.Arguments.Select(a => a.Expression.WithoutTrivia());
            var array = LocalDeclarationStatement(VariableDeclaration(IdentifierName("var"), SingletonSeparatedList(
                VariableDeclarator(tasks).WithInitializer(EqualsValueClause(ImplicitArrayCreationExpression(InitializerExpression(SyntaxKind.ArrayInitializerExpression, SeparatedList(arguments))))))))
                .WithLeadingTrivia(declaration.GetLeadingTrivia());
            var awaitAll = declaration.ReplaceNode(whenAll.ArgumentList, ArgumentList(SingletonSeparatedList(Argument(IdentifierName(tasks))))).WithoutLeadingTrivia();
            var body = new List<StatementSyntax> { awaitAll };
            body.AddRange(Statements.Kept(region.Select(s => (s, releases.Contains(s) ? null : s))));
            var releaseAll = ForEachStatement(IdentifierName("var"), task, IdentifierName(tasks), Block(IfStatement(completed, Block(release))));
            var tryStatement = TryStatement(Block(body), default, FinallyClause(Block(releaseAll)));
            var list = currentBlock.Statements.ToList();
            list.RemoveRange(start, region.Count + 1);
            list.InsertRange(start, new StatementSyntax[] { array, tryStatement }.Select(s => s.WithAdditionalAnnotations(Formatter.Annotation)));
            return root.ReplaceNode(currentBlock, currentBlock.WithStatements(List(list)).WithAdditionalAnnotations(Formatter.Annotation));
        }));
    }

    /// <summary>
    /// Does <paramref name="statement"/> release, anywhere in it, a value of the array's element type (a release call,
    /// <c>using</c>)? Conservative: any connection of that type counts, whatever name it is reached by, and so does a
    /// value of type <c>dynamic</c> (<c>((dynamic)conns[0]).Release()</c>), which may be one.
    /// </summary>
    private static bool MayReleaseAnElement(SemanticModel model, ReleaseChooser chooser, StatementSyntax statement, ITypeSymbol element) =>
        statement.DescendantNodesAndSelf(n => !FunctionContext.IsFunction(n)).Any(node => node switch
        {
            InvocationExpressionSyntax call when call.ArgumentList.Arguments.Count == 0 && ReceiverOf(model, call) is { TypeKind: TypeKind.Dynamic } =>
                CalledName(call) is { } name && chooser.Names.Contains(name),
            InvocationExpressionSyntax call => call.ArgumentList.Arguments.Count == 0
                                               && model.GetSymbolInfo(call).Symbol is IMethodSymbol { ReceiverType: { } declaredOn } method
                                               && chooser.Names.Contains(method.Name)
                                               && Ownership.IsOrDerivesFrom(element, ReceiverOf(model, call) ?? declaredOn),
            LocalDeclarationStatementSyntax { UsingKeyword.RawKind: not 0 } declaration => model.GetTypeInfo(declaration.Declaration.Type).Type is { } declared && MayBe(declared, element),
            UsingStatementSyntax usingStatement => (usingStatement.Declaration is { } declared ? model.GetTypeInfo(declared.Type).Type : usingStatement.Expression is { } expression ? model.GetTypeInfo(expression).Type : null) is { } used && MayBe(used, element),
            _ => false,
        });

    /// <summary>May a value of <paramref name="type"/> be one of the array's elements?</summary>
    private static bool MayBe(ITypeSymbol type, ITypeSymbol element) => type.TypeKind == TypeKind.Dynamic || Ownership.IsOrDerivesFrom(type, element);

    /// <summary>The name of the method a call calls as it is written (<c>Release</c> in <c>d.Release()</c> and <c>d?.Release()</c>).</summary>
    private static string? CalledName(InvocationExpressionSyntax call) => call.Expression switch
    {
        MemberAccessExpressionSyntax access => access.Name.Identifier.ValueText,
        MemberBindingExpressionSyntax binding => binding.Name.Identifier.ValueText,
        _ => null,
    };

    /// <summary>
    /// The type of what a call is made on, as the code names it (<c>cmd</c> in <c>cmd.Dispose()</c>, <c>c</c> in
    /// <c>c?.Release()</c>), rather than the type that declares the method: a command's <c>Dispose</c>, declared on a base
    /// the connection shares, is not a connection's release. Null for a call on <c>this</c>.
    /// </summary>
    private static ITypeSymbol? ReceiverOf(SemanticModel model, InvocationExpressionSyntax call) => call.Expression switch
    {
        MemberAccessExpressionSyntax access => model.GetTypeInfo(access.Expression).Type,
        MemberBindingExpressionSyntax => call.FirstAncestorOrSelf<ConditionalAccessExpressionSyntax>() is { } conditional ? model.GetTypeInfo(conditional.Expression).Type : null,
        _ => null,
    };

    /// <summary><c>foreach (var c in conns) c.Release();</c> or <c>conns[0].Release();</c>.</summary>
    private static bool ReleasesElements(ReleaseChooser chooser, StatementSyntax statement, ILocalSymbol results)
    {
        var model = chooser.Model;
        switch (statement)
        {
            case ForEachStatementSyntax { Expression: IdentifierNameSyntax source } loop when Statements.Is(model, source, results):
                var body = loop.Statement is BlockSyntax { Statements.Count: 1 } block ? block.Statements[0] : loop.Statement;
                return model.GetDeclaredSymbol(loop) is ILocalSymbol item && chooser.Releases(body, item, out _, out _);
            case ExpressionStatementSyntax { Expression: InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Expression: ElementAccessExpressionSyntax { Expression: IdentifierNameSyntax source } } access, ArgumentList.Arguments.Count: 0 } }:
                return Statements.Is(model, source, results) && chooser.Names.Contains(access.Name.Identifier.ValueText);
            default:
                return false;
        }
    }

    /// <summary>The <c>await pending</c> (with <c>ConfigureAwait</c>) around a use of the task, if that is all the use is.</summary>
    private static ExpressionSyntax? Awaited(IdentifierNameSyntax use)
    {
        ExpressionSyntax current = use;
        if (current.Parent is MemberAccessExpressionSyntax { Name.Identifier.ValueText: "ConfigureAwait", Parent: InvocationExpressionSyntax configured })
        {
            current = configured;
        }

        return current.Parent is AwaitExpressionSyntax awaitExpression ? awaitExpression : null;
    }

    /// <summary>A call on a name with arguments that only read names and constants: moving it moves no other work.</summary>
    private static bool IsSimpleCall(ExpressionSyntax acquisition) =>
        acquisition is InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Expression: IdentifierNameSyntax or MemberAccessExpressionSyntax { Expression: IdentifierNameSyntax or ThisExpressionSyntax } } } invocation
        && invocation.ArgumentList.Arguments.All(a => a.RefKindKeyword.IsKind(SyntaxKind.None)
            && a.Expression.DescendantNodesAndSelf().All(n => n is IdentifierNameSyntax or LiteralExpressionSyntax or MemberAccessExpressionSyntax or ThisExpressionSyntax or DefaultExpressionSyntax or PredefinedTypeSyntax));

    private static bool Writes(SemanticModel model, SyntaxNode node, List<ISymbol?> read)
    {
        var target = node switch
        {
            AssignmentExpressionSyntax assignment => assignment.Left,
            ArgumentSyntax { RefKindKeyword.RawKind: not 0 } argument => argument.Expression,
            PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.PreIncrementExpression or (int)SyntaxKind.PreDecrementExpression } prefix => prefix.Operand,
            PostfixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.PostIncrementExpression or (int)SyntaxKind.PostDecrementExpression } postfix => postfix.Operand,
            _ => null,
        };
        return target is not null && read.Contains(model.GetSymbolInfo(target).Symbol, SymbolEqualityComparer.Default);
    }
}
