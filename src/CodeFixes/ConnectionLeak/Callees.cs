using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using TenantDbGuard.Analyzers.ConnectionLeak;

namespace TenantDbGuard.CodeFixes.ConnectionLeak;

/// <summary>How a method that is given the connection treats it.</summary>
internal enum Kept
{
    No,

    /// <summary>In a field, a property, a collection, or a lambda: beyond the call.</summary>
    Stored,

    /// <summary>Returned, itself or inside something made from it.</summary>
    Returned,
}

/// <summary>
/// What <see cref="Ownership"/> learns from the code the connection is handed to: a method that keeps its argument
/// (by name for the framework's collections and <c>Interlocked</c>, from its body for the compilation's own), and a
/// lambda or local function that runs before the statement that holds it ends, or later.
/// </summary>
internal static class Callees
{
    // By name, for methods of other assemblies too: the fix does not release what a library may keep ('cache.Set(key, conn)'
    // on a memory cache), even where the analyzer, which knows the framework's collections by type, reports a leak.
    // Interlocked's Exchange and CompareExchange go by their type.
    private static readonly HashSet<string> StoringMethods = new()
    {
        "Add", "TryAdd", "Insert", "Enqueue", "TryEnqueue", "Push", "Set", "SetResult", "TrySetResult", "GetOrAdd", "AddOrUpdate",
        "TryUpdate", "Write", "WriteAsync", "TryWrite", "Post", "SendAsync", "Register", "Subscribe", "Attach", "Track", "Put",
        "Store", "Cache",
    };

    /// <summary>How many calls deep the fix reads the code's own methods the connection is passed on to.</summary>
    private const int MaxDepth = 2;

    private static readonly HashSet<string> DeferringMethods = new()
    {
        "Run", "StartNew", "QueueUserWorkItem", "UnsafeQueueUserWorkItem", "Register", "Subscribe", "ContinueWith", "Schedule",
    };

    /// <summary>Does the method keep what <paramref name="argument"/> passes it?</summary>
    public static Kept Keeps(SemanticModel model, IMethodSymbol? method, ArgumentSyntax argument) =>
        StoresByName(method) || WithDelegate(model, argument)
            ? Kept.Stored
            : KeepsInBody(model, method, argument, depth: 0);

    /// <summary>A method whose name says it keeps what it is given (a collection's <c>Add</c>, a cache's <c>Set</c>), or <c>Interlocked</c>'s.</summary>
    private static bool StoresByName(IMethodSymbol? method) =>
        method is not null && (method.ContainingType?.Name == "Interlocked" || StoringMethods.Contains(method.Name));

    /// <summary>Does a method of the compilation keep its parameter, and how?</summary>
    private static Kept KeepsInBody(SemanticModel callerModel, IMethodSymbol? method, ArgumentSyntax argument, int depth)
    {
        if (method?.MethodKind == MethodKind.DelegateInvoke)
        {
            // A delegate runs code the fix does not see: it may keep it.
            return Kept.Stored;
        }

        if (Declared(method, out var reduced) is not var (declared, declaration))
        {
            return Kept.No;
        }

        if (depth > MaxDepth || MayRunOtherCode(declared))
        {
            // Deeper than the fix reads, or a body that another may replace: it may keep it.
            return Kept.Stored;
        }

        if (Filled(declared, argument, reduced) is not { } parameter)
        {
            return Kept.No;
        }

        if (parameter.IsParams)
        {
            // One element of an array the body reaches by index or loop: it may keep it.
            return Kept.Stored;
        }

        var model = callerModel.Compilation.GetSemanticModel(declaration.SyntaxTree);
        if (declaration is TypeDeclarationSyntax { ParameterList: not null } primary)
        {
            // A primary constructor: a record's parameter is a property the compiler writes ('record HeldLease(
            // PooledConnection Lease, string Tenant)'), and a class's that the type names (in a member, an initializer)
            // may be captured in a field: the object keeps it.
            return primary is RecordDeclarationSyntax || Uses(model, declaration, parameter).Any() ? Kept.Stored : Kept.No;
        }

        var kept = Kept.No;
        foreach (var (use, value) in Uses(model, declaration, parameter))
        {
            if (use.Ancestors().TakeWhile(a => a != declaration).Any(FunctionContext.IsFunction))
            {
                return Kept.Stored;
            }

            var expression = value;
            if (expression.Parent is ArgumentSyntax { Parent.Parent: BaseObjectCreationExpressionSyntax creation })
            {
                // Something made from it keeps it when that is kept.
                expression = Statements.OutermostValue(creation, throughChoices: true);
            }

            switch (expression.Parent)
            {
                case EqualsValueClauseSyntax or AssignmentExpressionSyntax when Alias(model, expression) is { RefKind: RefKind.None }:
                    // Another local of the body: its uses come in turn. A ref local ('ref var slot = ref _slots[0]; slot = c;')
                    // writes where it refers to: stored.
                    break;
                case AssignmentExpressionSyntax assignment when assignment.Right == expression:
                case InitializerExpressionSyntax or ExpressionElementSyntax or AnonymousObjectMemberDeclaratorSyntax or ArgumentSyntax { Parent: TupleExpressionSyntax }:
                    return Kept.Stored;
                case ReturnStatementSyntax or YieldStatementSyntax or ArrowExpressionClauseSyntax:
                    kept = Kept.Returned;
                    break;
                case ArgumentSyntax inner when inner.Parent?.Parent is InvocationExpressionSyntax call:
                    var callee = model.GetSymbolInfo(call).Symbol as IMethodSymbol;
                    if (StoresByName(callee) || !inner.RefKindKeyword.IsKind(SyntaxKind.None))
                    {
                        return Kept.Stored;
                    }

                    if (KeepsInBody(model, callee, inner, depth + 1) == Kept.Stored)
                    {
                        return Kept.Stored;
                    }

                    break;
            }
        }

        return kept;
    }

    /// <summary>
    /// A method of the compilation as declared, with its declaration: an extension method called as
    /// <c>pool.Return(conn)</c> is read with its receiver as its first parameter, as its body names it
    /// (<paramref name="reduced"/> says it was called so). Null for a method of another assembly.
    /// </summary>
    private static (IMethodSymbol Method, SyntaxNode Declaration)? Declared(IMethodSymbol? called, out bool reduced)
    {
        reduced = called?.ReducedFrom is not null;
        // A partial method is read in the part that has its body: a call binds to the part without one.
        var method = called?.ReducedFrom ?? called;
        method = method is null ? null : PartialParts.WithBody(method);
        return method?.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax() is { } declaration ? (method, declaration) : null;
    }

    /// <summary>
    /// Is <paramref name="argument"/> passed together with a delegate (a lambda, a method group), which the call may
    /// hand it to?
    /// </summary>
    private static bool WithDelegate(SemanticModel model, ArgumentSyntax? argument) =>
        argument?.Parent is ArgumentListSyntax list
        && list.Arguments.Any(other => other != argument && model.GetTypeInfo(other.Expression).ConvertedType?.TypeKind == TypeKind.Delegate);

    /// <summary>
    /// Can a call to <paramref name="method"/> run a body other than its declaration's: an interface member, an
    /// abstract or virtual method, or an override that is not sealed (an implementation or a further override of the
    /// code may release or keep what it is given)?
    /// </summary>
    private static bool MayRunOtherCode(IMethodSymbol method) =>
        method.ContainingType.TypeKind == TypeKind.Interface
        || method.IsAbstract
        || method.IsVirtual
        || (method.IsOverride && !method.IsSealed && !method.ContainingType.IsSealed);

    /// <summary>
    /// Where <paramref name="parameter"/>'s value is named in <paramref name="declaration"/>: by the parameter itself and by
    /// the locals it is put in (<c>var held = c ?? throw ...;</c>, <c>held = c;</c>, a pattern's), whose uses come after the
    /// parameter's; each with the value it is part of (<see cref="Statements.OutermostValue"/> through choices).
    /// </summary>
    private static IEnumerable<(IdentifierNameSyntax Use, ExpressionSyntax Value)> Uses(SemanticModel model, SyntaxNode declaration, IParameterSymbol parameter)
    {
        var holders = new List<ISymbol> { parameter };
        for (var i = 0; i < holders.Count; i++)
        {
            var holder = holders[i];
            foreach (var use in declaration.DescendantNodes().OfType<IdentifierNameSyntax>().Where(id => id.Identifier.ValueText == holder.Name))
            {
                if (!SymbolEqualityComparer.Default.Equals(model.GetSymbolInfo(use).Symbol, holder))
                {
                    continue;
                }

                var value = Statements.OutermostValue(use, throughChoices: true);
                foreach (var alias in (Alias(model, value) is { } local ? new[] { local } : Enumerable.Empty<ILocalSymbol>()).Concat(PatternAliases(model, value)))
                {
                    if (!holders.Contains(alias, SymbolEqualityComparer.Default))
                    {
                        holders.Add(alias);
                    }
                }

                yield return (use, value);
            }
        }
    }

    /// <summary>Is <paramref name="made"/> (something made from the connection) put straight in a field or a property, and nothing else?</summary>
    private static bool OnlyStored(SemanticModel model, SyntaxNode? made) =>
        made is ExpressionSyntax expression
        && Statements.OutermostValue(expression, throughChoices: true) is var value
        && value.Parent is AssignmentExpressionSyntax store && store.Right == value
        && model.GetSymbolInfo(store.Left).Symbol is IFieldSymbol or IPropertySymbol;

    /// <summary>
    /// The locals a pattern on <paramref name="value"/> names it by: <c>c is PooledConnection p</c>, <c>switch (c) { case
    /// { } p: ... }</c>, <c>c switch { var p =&gt; ... }</c> (a subpattern's local names a member, not the value).
    /// </summary>
    private static IEnumerable<ILocalSymbol> PatternAliases(SemanticModel model, ExpressionSyntax value)
    {
        var patterns = value.Parent switch
        {
            IsPatternExpressionSyntax isPattern when isPattern.Expression == value => new[] { isPattern.Pattern },
            SwitchStatementSyntax switchStatement when switchStatement.Expression == value =>
                switchStatement.Sections.SelectMany(section => section.Labels).OfType<CasePatternSwitchLabelSyntax>().Select(label => label.Pattern),
            SwitchExpressionSyntax switchExpression when switchExpression.GoverningExpression == value => switchExpression.Arms.Select(arm => arm.Pattern),
            _ => Enumerable.Empty<PatternSyntax>(),
        };
        return patterns.SelectMany(WholeValueDesignations)
            .Select(designation => model.GetDeclaredSymbol(designation) as ILocalSymbol)
            .Where(local => local is not null)
            .Select(local => local!);
    }

    private static IEnumerable<SingleVariableDesignationSyntax> WholeValueDesignations(PatternSyntax pattern) => pattern switch
    {
        DeclarationPatternSyntax { Designation: SingleVariableDesignationSyntax single } => new[] { single },
        RecursivePatternSyntax { Designation: SingleVariableDesignationSyntax single } => new[] { single },
        VarPatternSyntax { Designation: SingleVariableDesignationSyntax single } => new[] { single },
        ParenthesizedPatternSyntax parenthesized => WholeValueDesignations(parenthesized.Pattern),
        BinaryPatternSyntax binary => WholeValueDesignations(binary.Left).Concat(WholeValueDesignations(binary.Right)),
        _ => Enumerable.Empty<SingleVariableDesignationSyntax>(),
    };

    /// <summary>The local that <paramref name="value"/> initializes or is assigned to, if it is one.</summary>
    private static ILocalSymbol? Alias(SemanticModel model, ExpressionSyntax value) => value.Parent switch
    {
        EqualsValueClauseSyntax { Parent: VariableDeclaratorSyntax declarator } => model.GetDeclaredSymbol(declarator) as ILocalSymbol,
        AssignmentExpressionSyntax { RawKind: (int)SyntaxKind.SimpleAssignmentExpression } assignment when assignment.Right == value => model.GetSymbolInfo(assignment.Left).Symbol as ILocalSymbol,
        _ => null,
    };

    /// <summary>
    /// The parameter of the declared <paramref name="method"/> that <paramref name="argument"/> fills, by name or by
    /// position; every argument from a <c>params</c> parameter's position on fills that one.
    /// </summary>
    private static IParameterSymbol? Filled(IMethodSymbol method, ArgumentSyntax argument, bool reduced)
    {
        if (argument.NameColon is { } nameColon)
        {
            return method.Parameters.FirstOrDefault(p => p.Name == nameColon.Name.Identifier.ValueText);
        }

        var position = ((ArgumentListSyntax)argument.Parent!).Arguments.IndexOf(argument) + (reduced ? 1 : 0);
        return method.Parameters.LastOrDefault() is { IsParams: true } last && position >= last.Ordinal
            ? last
            : method.Parameters.ElementAtOrDefault(position);
    }

    /// <summary>
    /// The receiver of a member of a C# 14 extension block (<c>extension(MySqlConnection c) { ... }</c>, a type of
    /// <c>TypeKind.Extension</c>, which Roslyn 4.8 does not name): the block's parameter, as the member's body names it.
    /// </summary>
    private static IParameterSymbol? ExtensionBlockReceiver(SemanticModel model, IMethodSymbol method, SyntaxNode declaration)
    {
        if (!MethodSummaries.IsExtensionMember(method))
        {
            return null;
        }

        var extension = method.ContainingType;

        foreach (var name in declaration.DescendantNodes().OfType<IdentifierNameSyntax>())
        {
            if (model.GetSymbolInfo(name).Symbol is IParameterSymbol parameter && SymbolEqualityComparer.Default.Equals(parameter.ContainingSymbol, extension))
            {
                return parameter;
            }
        }

        return null;
    }

    /// <summary>
    /// Does a method of the compilation give back what it is passed, by <paramref name="argument"/> or (when that is
    /// <c>null</c>) as the receiver of an extension method: a release call on its parameter (<c>c.Release()</c>,
    /// <c>c?.Dispose()</c>, <c>pool.Release(c)</c>), a <c>using (c)</c>, or another such method given it? The code's
    /// own release then sits in that call, where the fix neither sees nor moves it.
    /// </summary>
    public static bool ReleasesInBody(SemanticModel callerModel, IMethodSymbol? method, ArgumentSyntax? argument, ISet<string> names, int depth = 0)
    {
        if (method?.MethodKind == MethodKind.DelegateInvoke || WithDelegate(callerModel, argument))
        {
            // A delegate runs code the fix does not see ('done(conn)', 'QueueUserWorkItem(c => c.Release(), conn, false)'):
            // it may give the connection back.
            return true;
        }

        if (Declared(method, out var reduced) is not var (declared, declaration))
        {
            return false;
        }

        if (depth > MaxDepth || MayRunOtherCode(declared))
        {
            // Deeper than the fix reads, or a body that another may replace: it may give the connection back.
            return true;
        }

        var model = callerModel.Compilation.GetSemanticModel(declaration.SyntaxTree);
        var parameter = argument is null
            ? (reduced ? declared.Parameters.FirstOrDefault() : ExtensionBlockReceiver(model, declared, declaration))
            : Filled(declared, argument, reduced);
        if (parameter is null)
        {
            return false;
        }

        if (parameter.IsParams)
        {
            // One element of an array the body reaches by index or loop: it may give it back.
            return true;
        }

        foreach (var (use, value) in Uses(model, declaration, parameter))
        {
            switch (value.Parent)
            {
                case EqualsValueClauseSyntax { Parent.Parent.Parent: UsingStatementSyntax or LocalDeclarationStatementSyntax { UsingKeyword.RawKind: (int)SyntaxKind.UsingKeyword } }
                    when Alias(model, value) is not null:
                    // 'using var held = c;' gives it back as 'using (c)' does.
                    return true;
                case InitializerExpressionSyntax or ExpressionElementSyntax or AnonymousObjectMemberDeclaratorSyntax or ArgumentSyntax { Parent: TupleExpressionSyntax }
                    when !OnlyStored(model, value.Parent!.Parent):
                    // In an array, a collection, a tuple or an anonymous object that the body does not only store: it
                    // may release it from there.
                    return true;
                case AssignmentExpressionSyntax { Parent: InitializerExpressionSyntax { Parent: ExpressionSyntax initialized } } member
                    when member.Right == value && !OnlyStored(model, initialized):
                    // A member of an object the body makes ('new Box { Conn = c }'), which it may release it from.
                    return true;
                case ArgumentSyntax { Parent.Parent: BaseObjectCreationExpressionSyntax creation } made
                    when Keeps(model, model.GetSymbolInfo(creation).Symbol as IMethodSymbol, made) != Kept.No && !OnlyStored(model, creation):
                    // In an object of the code's own types that the body does not only store: it may give it back
                    // ('using (new Scope(c))', 'new Finisher(c).Run()').
                    return true;
            }

            ExpressionSyntax expression = use;
            while (expression.Parent is ParenthesizedExpressionSyntax or CastExpressionSyntax or PostfixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.SuppressNullableWarningExpression })
            {
                expression = (ExpressionSyntax)expression.Parent;
            }

            switch (expression.Parent)
            {
                case MemberAccessExpressionSyntax access when access.Expression == expression && names.Contains(access.Name.Identifier.ValueText)
                                                             && access.Parent is InvocationExpressionSyntax { ArgumentList.Arguments.Count: 0 }:
                case ConditionalAccessExpressionSyntax { WhenNotNull: InvocationExpressionSyntax { Expression: MemberBindingExpressionSyntax binding, ArgumentList.Arguments.Count: 0 } } conditional
                    when conditional.Expression == expression && names.Contains(binding.Name.Identifier.ValueText):
                case UsingStatementSyntax usingStatement when usingStatement.Expression == expression:
                    return true;
                case MemberAccessExpressionSyntax access when access.Expression == expression && access.Parent is InvocationExpressionSyntax receiverCall
                                                             && ReleasesInBody(model, model.GetSymbolInfo(receiverCall).Symbol as IMethodSymbol, null, names, depth + 1):
                    return true;
                case ArgumentSyntax inner when inner.Parent?.Parent is InvocationExpressionSyntax call:
                    var callee = model.GetSymbolInfo(call).Symbol as IMethodSymbol;

                    // A call with a ref or out argument may hand it back under another name ('Pass(c, out var p)').
                    if ((names.Contains(callee?.Name ?? string.Empty) && call.ArgumentList.Arguments.Count == 1)
                        || call.ArgumentList.Arguments.Any(a => !a.RefKindKeyword.IsKind(SyntaxKind.None))
                        || ReleasesInBody(model, callee, inner, names, depth + 1))
                    {
                        return true;
                    }

                    break;
            }
        }

        return false;
    }

    /// <summary>
    /// Does a lambda or local function that uses the connection run before the statement around it ends: a local
    /// function only called, or a lambda given to a call whose result is awaited or not kept?
    /// </summary>
    public static bool RunsBeforeItsStatementEnds(SemanticModel model, SyntaxNode container, SyntaxNode function)
    {
        if (function is LocalFunctionStatementSyntax localFunction)
        {
            var symbol = model.GetDeclaredSymbol(localFunction);
            return container.DescendantNodes().OfType<IdentifierNameSyntax>()
                .Where(id => id.Identifier.ValueText == localFunction.Identifier.ValueText && SymbolEqualityComparer.Default.Equals(model.GetSymbolInfo(id).Symbol, symbol))
                .All(id => id.Parent is InvocationExpressionSyntax invocation && invocation.Expression == id);
        }

        if (function.Parent is not ArgumentSyntax { Parent.Parent: InvocationExpressionSyntax call }
            || DeferringMethods.Contains((model.GetSymbolInfo(call).Symbol as IMethodSymbol)?.Name ?? string.Empty) && !IsAwaited(call))
        {
            return false;
        }

        ExpressionSyntax outer = call;
        while (outer.Parent is MemberAccessExpressionSyntax { Parent: InvocationExpressionSyntax chained } access && access.Expression == outer)
        {
            outer = chained;
        }

        if (IsAwaited(outer))
        {
            return true;
        }

        var type = model.GetTypeInfo(outer).Type;
        var deferred = type is null || Ownership.CarriesConnection(type) || type.Name is "Task" or "ValueTask" or "Lazy";
        return !deferred && outer.Parent is ExpressionStatementSyntax or EqualsValueClauseSyntax or ReturnStatementSyntax or ArgumentSyntax or BinaryExpressionSyntax;
    }

    private static bool IsAwaited(ExpressionSyntax expression)
    {
        var current = expression;
        while (current.Parent is MemberAccessExpressionSyntax { Name.Identifier.ValueText: "ConfigureAwait", Parent: InvocationExpressionSyntax configured } access && access.Expression == current)
        {
            current = configured;
        }

        return current.Parent is AwaitExpressionSyntax;
    }

}
