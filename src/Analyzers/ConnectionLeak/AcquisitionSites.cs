// Where a graph acquires: the calls the built-in rules name (GetConnection from other assemblies, OpenConnection,
// Open on a connection the method owns, attributed and configured methods), the calls of the compilation's own
// methods whose summaries say they acquire (by value, into an out/ref argument, or as an iterator whose enumerator
// is taken by hand), and the graph of a member body to look in.
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>Finds the acquisitions of one control-flow graph.</summary>
internal static class AcquisitionSites
{
    /// <summary>The graph of the executable code that <paramref name="body"/> belongs to.</summary>
    public static ControlFlowGraph? CreateGraph(SemanticModel model, SyntaxNode body, CancellationToken cancellationToken)
    {
        var operation = model.GetOperation(body, cancellationToken);
        while (operation?.Parent is not null)
        {
            operation = operation.Parent;
        }

        return operation switch
        {
            IMethodBodyOperation methodBody => ControlFlowGraph.Create(methodBody, cancellationToken),
            IConstructorBodyOperation constructorBody => ControlFlowGraph.Create(constructorBody, cancellationToken),
            IBlockOperation block => ControlFlowGraph.Create(block, cancellationToken),
            IFieldInitializerOperation fieldInitializer => ControlFlowGraph.Create(fieldInitializer, cancellationToken),
            IPropertyInitializerOperation propertyInitializer => ControlFlowGraph.Create(propertyInitializer, cancellationToken),
            _ => null,
        };
    }

    /// <summary>Is <paramref name="root"/> the root of executable code that has a control-flow graph (not an attribute or a parameter's default value)?</summary>
    public static bool IsGraphRoot(IOperation root) =>
        root is IMethodBodyOperation or IConstructorBodyOperation or IBlockOperation or IFieldInitializerOperation or IPropertyInitializerOperation;

    /// <summary>The locals declared in <paramref name="graph"/> itself.</summary>
    public static HashSet<ILocalSymbol> OwnLocals(ControlFlowGraph graph)
    {
        var locals = new HashSet<ILocalSymbol>(SymbolEqualityComparer.Default);
        Add(graph.Root);
        return locals;

        void Add(ControlFlowRegion region)
        {
            foreach (var local in region.Locals)
            {
                locals.Add(local);
            }

            foreach (var nested in region.NestedRegions)
            {
                Add(nested);
            }
        }
    }

    /// <summary>The acquisitions of <paramref name="graph"/> (not of its lambdas, which it adds to <paramref name="lambdas"/>).</summary>
    public static List<AcquisitionSite> Find(ControlFlowGraph graph, FlowContext context, List<IFlowAnonymousFunctionOperation>? lambdas)
    {
        var sites = new List<AcquisitionSite>();
        var origins = new LocalOrigins(graph);
        foreach (var block in graph.Blocks)
        {
            foreach (var operation in block.Operations)
            {
                Collect(operation, context, origins, sites, lambdas, condition: null);
            }

            if (block.BranchValue is not null)
            {
                var condition = block.ConditionalSuccessor is null ? null : WithoutNot(block.BranchValue);
                Collect(block.BranchValue, context, origins, sites, lambdas, condition);
            }
        }

        if (sites.Count > 1)
        {
            DropFactoryResultsOpenedLater(graph, sites);
        }

        return sites;
    }

    private static void Collect(IOperation root, FlowContext context, LocalOrigins origins, List<AcquisitionSite> sites, List<IFlowAnonymousFunctionOperation>? lambdas, IOperation? condition)
    {
        var stack = new Stack<IOperation>();
        stack.Push(root);
        while (stack.Count > 0)
        {
            var operation = stack.Pop();
            switch (operation)
            {
                case IFlowAnonymousFunctionOperation lambda:
                    lambdas?.Add(lambda);
                    continue;
                case IInvocationOperation invocation:
                    AddSites(invocation, context, origins, sites, ReferenceEquals(invocation, condition));
                    break;
                case IPropertyReferenceOperation property when ReadsAnAcquiringGetter(property, context):
                    if (CreateSite(property, AcquisitionKind.Returned, property.Property.Name, origins) is { } read)
                    {
                        sites.Add(read);
                    }

                    break;
            }

            foreach (var child in operation.ChildOperations)
            {
                stack.Push(child);
            }
        }
    }

    private static void AddSites(IInvocationOperation invocation, FlowContext context, LocalOrigins origins, List<AcquisitionSite> sites, bool isCondition)
    {
        var rules = context.Rules;
        if (rules.Classify(invocation, context.Names) is { } kind)
        {
            if (CreateSite(invocation, kind, summarized: null, origins) is { } site)
            {
                sites.Add(site);
            }

            return;
        }

        var method = invocation.TargetMethod;
        if (rules.IsInSource(method))
        {
            var summary = context.Summaries.Of(method, context.CancellationToken);
            if (summary.ReturnsAcquisition && CreateSite(invocation, AcquisitionKind.Returned, method.Name + "()", origins) is { } returned)
            {
                sites.Add(returned);
            }

            foreach (var into in summary.AcquiresInto)
            {
                if (ArgumentFor(invocation, into.Ordinal) is not ILocalReferenceOperation { Local: var local })
                {
                    continue;
                }

                var onlyWhenTrue = into.OnlyWhenTrue;
                if (onlyWhenTrue && !isCondition)
                {
                    if (IsReadElsewhere(invocation, local))
                    {
                        // 'var ok = TryCheckout(out var x)': which paths hold x is not followed; say nothing.
                        continue;
                    }

                    // 'return TryCheckout(out var x);' with x never read: whenever the call acquires, nothing can
                    // release what it acquired, so it is followed as an acquisition on every path.
                    onlyWhenTrue = false;
                }

                sites.Add(new AcquisitionSite(
                    invocation, invocation, AcquisitionKind.IntoArgument, local,
                    $"{method.Name}({ArgumentText(invocation, into.Ordinal)})", onlyWhenTrue, summary.Result));
            }

            return;
        }

        if (RunsAnAcquisition(invocation, context) is { } run && CreateSite(invocation, AcquisitionKind.Returned, run, origins) is { } started)
        {
            // 'Task.Run(() => pool.GetConnection())': the task's result is the connection, as for
            // 'OpenConnectionAsync()'.
            sites.Add(started);
            return;
        }

        if (OwnershipMoves.DapperOpensForReader(invocation, origins, context) is { } connection
            && CreateSite(invocation, AcquisitionKind.Returned, summarized: null, origins) is { } reader)
        {
            sites.Add(new AcquisitionSite(reader.Acquiring, reader.EffectPoint, reader.Kind, connection));
            return;
        }

        if (!invocation.IsImplicit && method.Name is "GetEnumerator" or "GetAsyncEnumerator" && HeldAcrossYield(invocation.Instance, context, origins) is { } iterator)
        {
            if (CreateSite(invocation, AcquisitionKind.Returned, $"{iterator}.{method.Name}()", origins) is { } enumerator)
            {
                sites.Add(enumerator);
            }
        }
    }

    /// <summary>
    /// How to name <c>Task.Run(...)</c> or <c>TaskFactory.StartNew(...)</c> when the lambda it runs only hands back a
    /// fresh acquisition (<c>() =&gt; pool.GetConnection()</c>, <c>async () =&gt; await
    /// dataSource.OpenConnectionAsync()</c>, a block whose one statement returns one, through <c>ConfigureAwait</c> and
    /// <c>AsTask</c>): the task's result is then a connection nobody else releases. Null otherwise.
    /// </summary>
    private static string? RunsAnAcquisition(IInvocationOperation invocation, FlowContext context)
    {
        var method = invocation.TargetMethod;
        if (method is not { Name: "Run" or "StartNew", ReturnType: INamedTypeSymbol { Name: "Task", TypeArguments.Length: 1 } }
            || method.ContainingType is not { Name: "Task" or "TaskFactory", ContainingNamespace: { Name: "Tasks", ContainingNamespace.Name: "Threading" } }
            || invocation.Arguments.Length == 0)
        {
            return null;
        }

        return ReturnedAcquisition(invocation.Arguments[0].Value, context) is null ? null : $"{method.ContainingType.Name}.{method.Name}()";
    }

    /// <summary>
    /// The acquisition a lambda given as <paramref name="delegateValue"/> only hands back (<c>() =&gt;
    /// pool.GetConnection()</c>, <c>async () =&gt; await dataSource.OpenConnectionAsync()</c>, a block whose one
    /// statement returns one, through <c>ConfigureAwait</c> and <c>AsTask</c>); null for any other value.
    /// </summary>
    public static IInvocationOperation? ReturnedAcquisition(IOperation delegateValue, FlowContext context)
    {
        var work = TrackedVariables.Unwrap(delegateValue);
        while (work is IDelegateCreationOperation creation)
        {
            work = TrackedVariables.Unwrap(creation.Target);
        }

        if (work is not IFlowAnonymousFunctionOperation { Syntax: AnonymousFunctionExpressionSyntax lambda })
        {
            return null;
        }

        var returned = lambda switch
        {
            { ExpressionBody: { } body } => body,
            { Block.Statements: { Count: 1 } statements } when statements[0] is ReturnStatementSyntax { Expression: { } value } => value,
            _ => null,
        };
        while (returned is ParenthesizedExpressionSyntax or AwaitExpressionSyntax
            || returned is InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Name.Identifier.ValueText: "ConfigureAwait" or "AsTask" } })
        {
            returned = returned switch
            {
                ParenthesizedExpressionSyntax parenthesized => parenthesized.Expression,
                AwaitExpressionSyntax awaited => awaited.Expression,
                InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax configured } => configured.Expression,
                _ => null,
            };
        }

        if (returned is null || context.Summaries.ModelOf(returned.SyntaxTree).GetOperation(returned, context.CancellationToken) is not IInvocationOperation acquiring)
        {
            return null;
        }

        var acquires = context.Rules.Classify(acquiring, context.Names) is AcquisitionKind.Returned
            || context.Rules.IsInSource(acquiring.TargetMethod) && context.Summaries.Of(acquiring.TargetMethod, context.CancellationToken).ReturnsAcquisition;
        return acquires ? acquiring : null;
    }

    /// <summary>
    /// Does <paramref name="property"/> read a property of the code whose getter hands its caller a fresh acquisition
    /// (<c>MySqlConnection Connection { get { var c = new MySqlConnection(cs); c.Open(); return c; } }</c>)?
    /// </summary>
    private static bool ReadsAnAcquiringGetter(IPropertyReferenceOperation property, FlowContext context) =>
        property.Property.GetMethod is { } getter && context.Summaries.MayBeAcquiringGetter(getter)
        && !(property.Parent is IAssignmentOperation assignment && ReferenceEquals(assignment.Target, property))
        && property.Parent is not IDeconstructionAssignmentOperation
        && context.Summaries.Of(getter, context.CancellationToken).ReturnsAcquisition;

    private static AcquisitionSite? CreateSite(IOperation acquiring, AcquisitionKind kind, string? summarized, LocalOrigins origins)
    {
        object? anchor = null;
        if (kind == AcquisitionKind.Opened && acquiring is IInvocationOperation invocation)
        {
            switch (TrackedVariables.Unwrap(invocation.Instance))
            {
                case ILocalReferenceOperation local:
                    if (origins.IsBorrowed(local.Local))
                    {
                        // 'if (Inner is DbConnection db) db.Open()': a field's or parameter's connection under another name.
                        return null;
                    }

                    anchor = local.Local;
                    break;
                case IFlowCaptureReferenceOperation capture:
                    anchor = capture.Id;
                    break;
                case IObjectCreationOperation:
                    break;
                case IParameterReferenceOperation { Parameter.RefKind: RefKind.Ref or RefKind.Out } parameter:
                    // 'Setup(ref MySqlConnection c) { c = new(...); c.Open(); }': opened for the caller, who receives it.
                    anchor = parameter.Parameter;
                    break;
                default:
                    // A field, property or parameter: the connection belongs to someone else.
                    return null;
            }
        }

        // The resource is held once the call returns, or once its task is awaited.
        var effectPoint = acquiring;
        var current = acquiring;
        while (true)
        {
            var parent = current.Parent;
            if (parent is IConversionOperation
                || parent is IInvocationOperation { TargetMethod.Name: "ConfigureAwait" } configureAwait && ReferenceEquals(configureAwait.Instance, current))
            {
                current = parent;
                continue;
            }

            if (ConfiguringCall(current) is { } configuring)
            {
                current = configuring;
                continue;
            }

            if (parent is IAwaitOperation)
            {
                effectPoint = parent;
            }

            break;
        }

        return new AcquisitionSite(acquiring, effectPoint, kind, anchor, summarized);
    }

    /// <summary>
    /// The call that only configures how <paramref name="task"/> is awaited, when there is one: an extension method on the
    /// task that returns a <c>ConfiguredTaskAwaitable</c> or <c>ConfiguredValueTaskAwaitable</c> (a wrapper of
    /// <c>ConfigureAwait</c>, such as <c>await conn.OpenAsync().ConfigAwait()</c>), or a call on it that does not
    /// resolve (the compiler knows nothing of it, so it cannot make the open count earlier than the await).
    /// </summary>
    internal static IOperation? ConfiguringCall(IOperation task)
    {
        var parent = task.Parent;
        if (parent is IArgumentOperation { Parent: IInvocationOperation { TargetMethod: { IsExtensionMethod: true } method, Arguments: var arguments } invocation } argument
            && arguments.Length > 0 && ReferenceEquals(arguments[0], argument)
            && method.ReturnType is INamedTypeSymbol { Name: "ConfiguredTaskAwaitable" or "ConfiguredValueTaskAwaitable", ContainingNamespace.Name: "CompilerServices" })
        {
            return invocation;
        }

        if (parent is IInvalidOperation invalid && invalid.Parent is IAwaitOperation && task.Type is INamedTypeSymbol { Name: "Task" or "ValueTask" })
        {
            return invalid;
        }

        return null;
    }

    /// <summary>
    /// How to name an iterator of the compilation that holds a connection across <c>yield</c> (<c>Ids()</c>, <c>Recent</c>,
    /// <c>this[]</c>), when <paramref name="receiver"/> is a call of it or a read of an iterator property or indexer, or a
    /// local only ever assigned one of those.
    /// </summary>
    private static string? HeldAcrossYield(IOperation? receiver, FlowContext context, LocalOrigins origins)
    {
        var value = TrackedVariables.Unwrap(receiver);
        if (value is ILocalReferenceOperation { Local: var local })
        {
            value = origins.SingleValue(local);
        }

        switch (value)
        {
            case IInvocationOperation { TargetMethod: var method }
                when context.Rules.IsInSource(method) && context.Summaries.Of(method, context.CancellationToken).HoldsAcrossYield:
                return method.Name + "()";
            case IPropertyReferenceOperation { Property: { GetMethod: { } getter } property }
                when context.Summaries.MayBeAcquiringGetter(getter) && context.Summaries.Of(getter, context.CancellationToken).HoldsAcrossYield:
                // An iterator property or indexer ('Recent', 'this[year]'): its getter is the iterator.
                return property.Name;
            default:
                return null;
        }
    }

    private static IOperation? ArgumentFor(IInvocationOperation invocation, int ordinal)
    {
        foreach (var argument in invocation.Arguments)
        {
            if (argument.Parameter?.Ordinal == ordinal)
            {
                return TrackedVariables.Unwrap(argument.Value);
            }
        }

        return null;
    }

    private static string ArgumentText(IInvocationOperation invocation, int ordinal)
    {
        foreach (var argument in invocation.Arguments)
        {
            if (argument.Parameter?.Ordinal == ordinal)
            {
                return argument.Syntax.ToString();
            }
        }

        return string.Empty;
    }

    private static IOperation WithoutNot(IOperation condition)
    {
        var current = TrackedVariables.Unwrap(condition)!;
        while (current is IUnaryOperation { OperatorKind: UnaryOperatorKind.Not } not)
        {
            current = TrackedVariables.Unwrap(not.Operand)!;
        }

        return current;
    }

    /// <summary>
    /// A factory call (<c>GetConnection()</c>) whose connection the method then opens itself: the connection came closed,
    /// and the <c>Open</c> is the acquisition. Following both would report one connection twice.
    /// </summary>
    private static void DropFactoryResultsOpenedLater(ControlFlowGraph graph, List<AcquisitionSite> sites)
    {
        HashSet<ILocalSymbol>? opened = null;
        foreach (var site in sites)
        {
            if (site.Kind == AcquisitionKind.Opened && site.Anchor is ILocalSymbol local)
            {
                (opened ??= new HashSet<ILocalSymbol>(SymbolEqualityComparer.Default)).Add(local);
            }
        }

        if (opened is null)
        {
            return;
        }

        sites.RemoveAll(site => site.Kind == AcquisitionKind.Returned && site.Summarized is null && AssignedLocal(site.EffectPoint) is { } local && opened.Contains(local));
    }

    /// <summary>The local that the value of <paramref name="value"/> is assigned to directly, if any.</summary>
    private static ILocalSymbol? AssignedLocal(IOperation value)
    {
        var current = value;
        while (current.Parent is IConversionOperation)
        {
            current = current.Parent;
        }

        return current.Parent is ISimpleAssignmentOperation { Target: ILocalReferenceOperation target } assignment && ReferenceEquals(assignment.Value, current)
            ? target.Local
            : null;
    }

    /// <summary>Whether <paramref name="local"/> is named anywhere in its method (lambdas and local functions included) outside <paramref name="call"/>.</summary>
    private static bool IsReadElsewhere(IOperation call, ILocalSymbol local)
    {
        var root = call;
        while (root.Parent is { } parent)
        {
            root = parent;
        }

        foreach (var reference in root.Descendants().OfType<ILocalReferenceOperation>())
        {
            if (SymbolEqualityComparer.Default.Equals(reference.Local, local) && !call.Syntax.Span.Contains(reference.Syntax.Span))
            {
                return true;
            }
        }

        return false;
    }
}
