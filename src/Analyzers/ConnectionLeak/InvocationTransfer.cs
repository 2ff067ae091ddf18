// The transfer of calls: the followed acquisition itself, release calls, calls that pass the resource through
// (ConfigureAwait, Task.FromResult), hand-offs by call, uses after a release, and the out arguments a call writes.
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>Evaluates invocations for the current path state.</summary>
internal sealed class InvocationTransfer
{
    private readonly LeakFlowAnalysis _analysis;

    public InvocationTransfer(LeakFlowAnalysis analysis)
    {
        _analysis = analysis;
    }

    /// <summary>The last call evaluated released the resource: awaiting it is taken not to throw.</summary>
    public bool ReleasedByLastCall { get; set; }

    private PathEffects Effects => _analysis.Effects;

    private OperationTransfer Transfer => _analysis.Transfer;

    /// <summary>The followed acquisition: after it (or the <c>await</c> of it) the resource is held.</summary>
    public bool EvaluateAcquisition(IOperation effectPoint)
    {
        var site = _analysis.Site!;
        if (effectPoint is IAwaitOperation awaitOperation)
        {
            Transfer.Evaluate(awaitOperation.Operation);
            Effects.MayThrow(effectPoint);
        }
        else
        {
            // The acquiring call, or the read of a property of the code whose getter acquires ('var c = OpenConnection;').
            var (instance, arguments) = effectPoint switch
            {
                IInvocationOperation invocation => (invocation.Instance, invocation.Arguments),
                IPropertyReferenceOperation property => (property.Instance, property.Arguments),
                _ => (null, ImmutableArray<IArgumentOperation>.Empty),
            };
            Transfer.Evaluate(instance);
            foreach (var argument in arguments)
            {
                Transfer.Evaluate(argument);
            }

            Effects.MayThrow(effectPoint);
        }

        var state = _analysis.State;
        if (state.Status == ResourceStatus.Held)
        {
            _analysis.AddLeak(new Leak(LeakReason.AcquiredAgain, site.Acquiring.Syntax, null));
        }
        else if (site.Kind == AcquisitionKind.Opened && state.IsTrackedAfterRelease && !_analysis.AfterRelease.ReleaseOf(state).Closes
                 && site.Anchor is not null && _analysis.Variables.Holds(state, site.Anchor) && site.Invocation is { } opening)
        {
            // Opening a disposed connection again (the loop came back to the Open after a Dispose).
            _analysis.AfterRelease.AddMisuse(MisuseKind.UsedAfterRelease, opening, _analysis.AfterRelease.ReleaseOf(state).Operation, opening.Instance);
        }

        // A new resource: what happened after the release of the previous one does not concern it.
        var flags = state.Flags & ~PathState.ThrownAfterRelease;
        if (site.Kind == AcquisitionKind.Returned)
        {
            // A reader Dapper opened the connection for: the connection's variable holds it as well as the reader.
            var alsoHeldBy = site.Anchor is { } also ? _analysis.Variables.Bit(also) : HolderSet.Empty;
            _analysis.State = new PathState(ResourceStatus.Held, alsoHeldBy, 0, flags);
            return true;
        }

        if (site.Kind == AcquisitionKind.IntoArgument)
        {
            _analysis.State = new PathState(ResourceStatus.Held, _analysis.Variables.Bit(site.Anchor!), 0, flags);
            return false;
        }

        // Opened: the object in the receiver is now an open connection, unless it belongs to someone else.
        if (state.Status == ResourceStatus.Escaped)
        {
            return false;
        }

        var holders = state.Status is ResourceStatus.Unacquired or ResourceStatus.Released ? state.Holders : HolderSet.Empty;
        if (site.Anchor is not null)
        {
            holders |= _analysis.Variables.Bit(site.Anchor);
        }

        _analysis.State = new PathState(ResourceStatus.Held, holders, 0, flags);
        return false;
    }

    private bool CarriesResource(IInvocationOperation invocation)
    {
        foreach (var argument in invocation.Arguments)
        {
            if (OwnershipMoves.CarriesResource(argument.Value, _analysis.State, _analysis.Variables, _analysis.Origins))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// A call whose body the analysis can read: a release helper, a local function called in finally, a hand-off, a
    /// method that gives back the connection it was given. Returns null when the call is read as any other; otherwise
    /// whether its value is the followed resource.
    /// </summary>
    private bool? ApplyCalleeEffect(IInvocationOperation invocation, List<IArgumentOperation>? resourceArguments)
    {
        var (effect, holder) = _analysis.Callees.Of(invocation, resourceArguments);
        return ApplyEffect(invocation, effect, holder);
    }

    private bool? ApplyEffect(IInvocationOperation invocation, ParameterEffect effect, IOperation? holder)
    {
        switch (effect)
        {
            case ParameterEffect.Releases:
                Effects.Release(invocation, closes: false, holder);
                ReleasedByLastCall = true;
                return false;
            case ParameterEffect.ReleasesUnlessItThrows:
                Effects.MayThrow(invocation);
                Effects.Release(invocation, closes: false, holder);
                return false;
            case ParameterEffect.TakesOver:
                Effects.Escape();
                Effects.MayThrow(invocation);
                return false;
            case ParameterEffect.ReturnsIt:
                return true;
            case ParameterEffect.ReturnsItOrThrows:
                // 'var warm = await conn.WarmAsync();': the caller still owns the connection when the call throws (an
                // async method throws into its task, and the await throws).
                if (!HandOffRules.ThrowsOnlyIntoItsTask(invocation))
                {
                    Effects.MayThrow(invocation);
                }

                return true;
            default:
                return null;
        }
    }

    /// <summary>
    /// <c>Interlocked.Exchange(ref variable, other)</c> on a variable that holds the held resource, where <c>other</c>
    /// is not the resource: the resource moves from the variable to the call's value.
    /// </summary>
    private bool IsSwapOut(IInvocationOperation invocation, IMethodSymbol method, bool firstArgumentIsResource, List<IArgumentOperation>? resourceArguments) =>
        firstArgumentIsResource
        && resourceArguments is { Count: 1 }
        && _analysis.State.Status == ResourceStatus.Held
        && method is { Name: "Exchange", Parameters.Length: 2 }
        && HandOffRules.IsInterlockedSwap(method)
        && invocation.Arguments[0].Parameter is { Ordinal: 0, RefKind: RefKind.Ref }
        && _analysis.Variables.HeldBy(_analysis.State, invocation.Arguments[0].Value);

    private static bool InArray(List<IArgumentOperation> arguments)
    {
        foreach (var argument in arguments)
        {
            if (OperationTransfer.IsArray(argument.Value))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Evaluates a call; returns whether its value is the followed resource. A call that never returns
    /// (<paramref name="end"/>) is not sent to the handlers here: the caller ends the path
    /// (<see cref="LeakFlowAnalysis.EndPath"/>).
    /// </summary>
    public bool EvaluateInvocation(IInvocationOperation invocation, CallEnd end)
    {
        var instanceIsResource = Transfer.Evaluate(invocation.Instance);
        var argumentIsResource = false;
        var firstArgumentIsResource = false;
        var passedByRef = false;
        List<IArgumentOperation>? resourceArguments = null;
        for (var i = 0; i < invocation.Arguments.Length; i++)
        {
            var argument = invocation.Arguments[i];
            var isResource = Transfer.Evaluate(argument);
            argumentIsResource |= isResource;
            if (isResource)
            {
                (resourceArguments ??= new List<IArgumentOperation>()).Add(argument);
            }

            if (i == 0)
            {
                firstArgumentIsResource = isResource;
            }

            if (isResource && argument.Parameter?.RefKind is RefKind.Ref)
            {
                passedByRef = true;
            }
        }

        var method = invocation.TargetMethod;
        var name = method.Name;
        if (IsSwapOut(invocation, method, firstArgumentIsResource, resourceArguments))
        {
            // 'Interlocked.Exchange(ref _connection, null)': the call gives back what the variable held, and the
            // variable holds the other value from here on. The call's value is the resource ('?.Dispose()' on it
            // releases it).
            _analysis.State = _analysis.State.With(_analysis.State.Holders.Except(_analysis.Variables.AliasOf(invocation.Arguments[0].Value)));
            return true;
        }

        if (_analysis.State.Status == ResourceStatus.Held && OwnershipMoves.IsClosingReader(invocation)
            && OwnershipMoves.IsBoundToResource(invocation.Instance, _analysis.State, _analysis.Variables, _analysis.Origins))
        {
            // The reader closes the connection: it holds the resource from here on (the connection's variable still does too).
            Effects.MayThrow(invocation);
            return true;
        }

        if (_analysis.OwnerFields && invocation.Instance is IInstanceReferenceOperation && _analysis.State.Status == ResourceStatus.Held
            && ApplyCalleeEffect(invocation, resourceArguments) is { } ownResult)
        {
            // 'Dispose() => Dispose(true)': the type's own method releases the field.
            return ownResult;
        }

        // A local function or a delegate named like a release ('void Release(Lease c) => c.Dispose();') is walked at the
        // call like any other: its body says whether it releases.
        if (_analysis.Names.ReleaseNames.Contains(name) && method.MethodKind is not (MethodKind.LocalFunction or MethodKind.DelegateInvoke))
        {
            if (instanceIsResource || argumentIsResource)
            {
                // Close on a DbConnection gives the connection back but leaves the object usable: Open may follow.
                // So does closing or disposing a reader that owns the connection (CommandBehavior.CloseConnection).
                var closes = instanceIsResource
                    && (name is "Close" or "CloseAsync" && _analysis.Rules.IsDbConnection(method.ContainingType) || _analysis.Rules.IsDataReader(TrackedVariables.Unwrap(invocation.Instance)?.Type as INamedTypeSymbol));
                Effects.Release(invocation, closes, instanceIsResource ? invocation.Instance : null);
                ReleasedByLastCall = true;
            }
            else if (_analysis.OwnerFields && !HandOffRules.NeverThrows(invocation))
            {
                // In a Dispose, disposing something else first can throw and skip the release that follows (not the end of
                // a 'lock' on a System.Threading.Lock, which the compiler writes as a dispose of its scope).
                Effects.MayThrow(invocation);
            }

            return false;
        }

        if (name == "GetValueOrDefault" && method.Parameters.Length == 0 && OperationTransfer.IsNullableValue(method.ContainingType))
        {
            // 'lease.GetValueOrDefault()' of a 'Lease?' (also what 'lease?.Dispose()' and 'using (lease)' call): the
            // same struct.
            return instanceIsResource;
        }

        if (name is "ConfigureAwait" or "AsTask" or "Preserve" or "GetAwaiter" or "GetResult" or "Unwrap")
        {
            return instanceIsResource || (method.IsExtensionMethod && firstArgumentIsResource);
        }

        if (name == "FromResult" && method.IsStatic && method.ContainingType is { Name: "Task" or "ValueTask" })
        {
            // A completed task of the resource: whoever receives the task receives the resource.
            return firstArgumentIsResource;
        }

        if (HandOffRules.IsValueHolderFactory(method))
        {
            // 'KeyValuePair.Create("a", conn)', 'Tuple.Create(conn, 1)': the holder it returns carries the resource, like
            // 'new KeyValuePair<string, Connection>("a", conn)' or '(conn, 1)'.
            return argumentIsResource;
        }

        if (argumentIsResource && HandOffRules.IsTaskCombinator(method))
        {
            // 'Task.WhenAll(a, b)' of Task<T>: its task completes with the tasks' results ('WhenAny' with one of the tasks),
            // so whoever receives it receives the resources.
            return true;
        }

        if (!argumentIsResource && !instanceIsResource && _analysis.State.Status == ResourceStatus.Held && IsReleasingDisposableFactory(invocation))
        {
            // 'using var cleanup = Disposable.Create(() => conn.Dispose());': like 'new ActionDisposable(...)', the object
            // it returns stands for the connection; disposing it releases the connection.
            return true;
        }

        if (!argumentIsResource && _analysis.State.Status == ResourceStatus.Held && HandsToAReleasingTask(invocation))
        {
            // 'return Task.Run(() => { using (conn) { ... } });': the task runs the callback, which gives the connection back
            // on every path, and the method does not touch it again. The task owns it from the call on.
            Effects.Escape();
        }

        if (instanceIsResource && _analysis.State.Status == ResourceStatus.Held && MethodSummaries.IsExtensionMember(method)
            && ApplyEffect(invocation, _analysis.Context.Summaries.EffectOnReceiver(method, _analysis.Context.CancellationToken), invocation.Instance) is { } receiverResult)
        {
            // 'conn.CloseQuietly()' of an extension block of the code: its body says what it does with the receiver.
            return receiverResult;
        }

        if (_analysis.State.Status == ResourceStatus.Held
            && (argumentIsResource || method.MethodKind is MethodKind.LocalFunction or MethodKind.DelegateInvoke
                || _analysis.OwnerFields && invocation.Instance is IInstanceReferenceOperation)
            && ApplyCalleeEffect(invocation, resourceArguments) is { } result)
        {
            return result;
        }

        if (_analysis.State.IsTrackedAfterRelease && !ReferenceEquals(invocation, _analysis.Site?.Invocation))
        {
            if (_analysis.AfterRelease.ReleaseOf(_analysis.State).Closes && !Reopening.IsOwnOpen(method, _analysis.Rules)
                && _analysis.Reopening.MayReopen(invocation, instanceIsResource, resourceArguments))
            {
                // 'conn.Close(); conn.EnsureOpen();': a call that may open the connection again, like 'conn.Open()'
                // (which AfterReleaseTracking reads itself). Whether it did is not known, so the connection is
                // followed no further (nor reported if it stays closed).
                _analysis.State = new PathState(ResourceStatus.Released, HolderSet.Empty);
            }
            else if (instanceIsResource && !_analysis.Carriers.IsCarrier(invocation.Instance?.Type))
            {
                _analysis.AfterRelease.UseAfterRelease(invocation, invocation.Instance, method);
            }
            else if (method.IsExtensionMethod && firstArgumentIsResource)
            {
                _analysis.AfterRelease.UseAfterRelease(invocation, invocation.Arguments[0].Value, method);
            }
        }

        if (_analysis.State.Status == ResourceStatus.Held && (!argumentIsResource && CarriesResource(invocation) || _analysis.Carriers.PassesCarrier(invocation)))
        {
            // 'Switch(new PooledConnection(server, connection))', 'Enqueue(scope)': the callee receives the connection inside its holder.
            Effects.Escape();
        }

        if (_analysis.OwnerFields && _analysis.State.Status == ResourceStatus.Held && HandOffRules.TakesBack(method, _analysis.Rules.Collections)
            && invocation.Arguments.Any(argument => TrackedVariables.Unwrap(argument.Value) is IInstanceReferenceOperation))
        {
            // 'public void Release() => _owner.Return(this);': a pooled object goes back to its pool with its connection.
            Effects.Escape();
        }

        // A hand-off (into a collection, by ref, to the constructor chained with ': this(...)', swapped into a field with
        // Interlocked, or in an array to a method of the code, which may release or keep the elements one by one where
        // its summary does not follow them) counts from the moment of the call, even if the call throws.
        if (argumentIsResource && (passedByRef || _analysis.Rules.Collections.Stores(method) || method.MethodKind == MethodKind.Constructor || HandOffRules.IsInterlockedSwap(method)
                                   || _analysis.Rules.IsInSource(method) && InArray(resourceArguments!)))
        {
            Effects.Escape();
        }

        if (end == CallEnd.Returns && !HandOffRules.NeverThrows(invocation) && !IdentityTests.NeverThrows(_analysis, invocation) && !HandOffRules.ThrowsOnlyIntoItsTask(invocation) && !IsAsyncOnTheAcquisitionsReceiver(invocation)
            && !GuardCalls.IsSatisfied(invocation, _analysis) && !GuardCalls.ChecksHeldNotNull(invocation, _analysis) && !EmptyCalls.DoNothing(invocation, _analysis))
        {
            Effects.MayThrow(invocation);
        }

        foreach (var argument in invocation.Arguments)
        {
            if (argument.Parameter?.RefKind == RefKind.Out && TrackedVariables.Unwrap(argument.Value) is ILocalReferenceOperation outLocal)
            {
                Effects.Store(outLocal.Local, false, null, isCapture: false, argument);
            }
        }

        // 'return wrapper.BeginAutoTransaction();' of a method of the code whose every return is 'return this;': its value
        // is the connection it was called on.
        return instanceIsResource && _analysis.State.Status == ResourceStatus.Held
            && _analysis.Context.Summaries.ReturnsItsReceiver(method, _analysis.Context.CancellationToken);
    }

    /// <summary>
    /// A static factory of disposables given a callback that releases the connection (<c>Disposable.Create(() =&gt;
    /// conn.Dispose())</c> of System.Reactive or Nito.Disposables, or one of the code): it returns <c>IDisposable</c> or
    /// <c>IAsyncDisposable</c> itself, or a disposable type of the code, and takes nothing else. An instance method
    /// (<c>token.Register(() =&gt; conn.Dispose())</c>, whose registration does not run the callback when disposed), a
    /// method given more than the callback (<c>source.Subscribe(...)</c>, an extension method) or a framework type
    /// (<c>Task.Run(...)</c>) is not one.
    /// </summary>
    private bool IsReleasingDisposableFactory(IInvocationOperation invocation)
    {
        var method = invocation.TargetMethod;
        if (!method.IsStatic || invocation.Arguments.Length != 1
            || !(IsDisposableInterface(method.ReturnType) || HandOffRules.IsOwningWrapper(method.ReturnType, _analysis.Names)))
        {
            return false;
        }

        return _analysis.Callees.OfCallback(invocation.Arguments[0].Value) == ParameterEffect.Releases;
    }

    /// <summary>
    /// A call that always runs the callback it is given (<c>Task.Run</c>, <c>TaskFactory.StartNew</c>, <c>ContinueWith</c>,
    /// <c>ThreadPool.QueueUserWorkItem</c>, in an overload without a <c>CancellationToken</c> or continuation options) and is given a lambda that releases the held connection on every path, while no
    /// variable that holds it is named again after the call outside that lambda (nor inside a loop around the call, whose
    /// next turn could). A method group (<c>conn.Dispose</c>, a local function) counts as the lambda that calls it. A
    /// use after such a call would race the release, so it keeps the connection the method's.
    /// </summary>
    private bool HandsToAReleasingTask(IInvocationOperation invocation)
    {
        if (!AlwaysRunsItsCallback(invocation.TargetMethod)
            || invocation.TargetMethod.Parameters.Any(p => p.Type is { Name: "CancellationToken" or "TaskContinuationOptions" }))
        {
            // A token cancelled before the task starts, or a continuation only on success, and the callback never runs.
            return false;
        }

        foreach (var argument in invocation.Arguments)
        {
            if (CalleeEffects.CallbackSyntax(_analysis.Callees.CallbackTarget(argument.Value)) is { } callback
                && _analysis.Callees.OfCallback(argument.Value) == ParameterEffect.Releases
                && !NamedAfter(invocation.Syntax, callback))
            {
                return true;
            }
        }

        return false;
    }

    private static bool AlwaysRunsItsCallback(IMethodSymbol method) => method switch
    {
        { Name: "Run", IsStatic: true, ContainingType: { Name: "Task", ContainingNamespace: var ns } } => IsTasksNamespace(ns),
        { Name: "StartNew", IsStatic: false, ContainingType: { Name: "TaskFactory", ContainingNamespace: var ns } } => IsTasksNamespace(ns),
        { Name: "ContinueWith", IsStatic: false, ContainingType: { Name: "Task", ContainingNamespace: var ns } } => IsTasksNamespace(ns),
        { Name: "QueueUserWorkItem" or "UnsafeQueueUserWorkItem", IsStatic: true, ContainingType: var type } => HandOffRules.IsThreadingType(type, "ThreadPool"),
        _ => false,
    };

    private static bool IsTasksNamespace(INamespaceSymbol? ns) =>
        ns is { Name: "Tasks" } && HandOffRules.IsSystemThreading(ns.ContainingNamespace);

    /// <summary>
    /// Is a local that holds the connection named after <paramref name="call"/> (outside <paramref name="lambda"/>), or is
    /// the call in a loop of the method that a holder was declared outside of?
    /// </summary>
    private bool NamedAfter(SyntaxNode call, SyntaxNode lambda)
    {
        var body = _analysis.Graph.OriginalOperation.Syntax;
        foreach (var holder in _analysis.Variables.HoldersOf(_analysis.State))
        {
            if (holder is not ILocalSymbol local || local.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax() is not { } declaration)
            {
                return true;
            }

            for (var node = call.Parent; node is not null && node != body; node = node.Parent)
            {
                if (node is ForStatementSyntax or CommonForEachStatementSyntax
                        or WhileStatementSyntax or DoStatementSyntax
                    && !node.Span.Contains(declaration.Span))
                {
                    return true;
                }
            }

            if (body.DescendantTokens().Any(token => token.SpanStart >= call.Span.End && !lambda.Span.Contains(token.Span)
                                                     && token.IsKind(SyntaxKind.IdentifierToken) && token.ValueText == local.Name))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsDisposableInterface(ITypeSymbol type) =>
        type is INamedTypeSymbol { TypeKind: TypeKind.Interface, Name: "IDisposable" or "IAsyncDisposable", ContainingNamespace: { Name: "System", ContainingNamespace.IsGlobalNamespace: true } };

    /// <summary>
    /// <c>new[] { db.OpenAsync(), db.OpenAsync() }</c>: an <c>async</c> method called on the parameter or read-only field
    /// whose call acquired the connection. That call proved it not null, and an <c>async</c> method throws only into its
    /// task, so this call cannot throw before its task exists.
    /// </summary>
    private bool IsAsyncOnTheAcquisitionsReceiver(IInvocationOperation invocation) =>
        invocation.Instance is not null
        && _analysis.Site?.Invocation is { Instance: { } acquiredOn } acquisition
        && !ReferenceEquals(acquisition, invocation)
        && HandOffRules.IsAsync(invocation.TargetMethod)
        && _analysis.Facts.Unchanging(invocation.Instance) is { } receiver
        && SymbolEqualityComparer.Default.Equals(receiver, _analysis.Facts.Unchanging(acquiredOn));
}
