// The transfer function over one operation tree: evaluates it in evaluation order for the current path state and
// tells whether its value is the followed resource. Calls go to InvocationTransfer; what a store, an escape or a
// possible exception does to the state is PathEffects' business.
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>Evaluates the operations of a block, one kind at a time.</summary>
internal sealed class OperationTransfer
{
    private readonly LeakFlowAnalysis _analysis;

    public OperationTransfer(LeakFlowAnalysis analysis)
    {
        _analysis = analysis;
    }

    /// <summary>
    /// <c>ICollectionExpressionOperation</c> (C# 12's <c>[a, b]</c>, C# 13's <c>params</c> spans and lists), which the
    /// Roslyn 4.8 the analyzer is built against does not name.
    /// </summary>
    private const OperationKind CollectionExpressionKind = (OperationKind)0x7F;

    /// <summary>
    /// A collection expression: <see cref="CollectionExpressionKind"/>, or on Roslyn 4.8 (which compiles C# 12's
    /// <c>[a, b]</c> but has no operation for it) an operation of no kind over that syntax, whose children are its elements.
    /// </summary>
    private static bool IsCollectionExpression(IOperation? operation) =>
        operation is { Kind: CollectionExpressionKind } or { Kind: OperationKind.None, Syntax: Microsoft.CodeAnalysis.CSharp.Syntax.CollectionExpressionSyntax };

    private PathEffects Effects => _analysis.Effects;

    /// <summary>Is <paramref name="operation"/> (through conversions) an array creation or a collection expression?</summary>
    public static bool IsArray(IOperation? operation) =>
        TrackedVariables.Unwrap(operation) is IArrayCreationOperation || IsCollectionExpression(TrackedVariables.Unwrap(operation));

    /// <summary>
    /// How deep <see cref="Evaluate"/> goes into one operation tree. An expression nested deeper (a sum or string
    /// concatenation of hundreds of terms, a chain of hundreds of calls, as generated code writes them) stops the walk
    /// as the step limit does: the acquisition is not checked, and TDG006 says so, rather than the compiler's stack
    /// overflowing.
    /// </summary>
    internal const int MaxDepth = 250;

    private int _depth;

    /// <summary>Evaluates <paramref name="operation"/>; returns whether its value is the followed resource.</summary>
    public bool Evaluate(IOperation? operation)
    {
        if (_depth >= MaxDepth)
        {
            _analysis.StopAtDepthLimit();
            return false;
        }

        // A backstop for whatever else recurses below: throws InsufficientExecutionStackException, which the walk turns
        // into the same stop, before the stack is gone.
        System.Runtime.CompilerServices.RuntimeHelpers.EnsureSufficientExecutionStack();
        _depth++;
        try
        {
            return EvaluateOperation(operation);
        }
        finally
        {
            _depth--;
        }
    }

    private bool EvaluateOperation(IOperation? operation)
    {
        if (operation is null || _analysis.PathEnded)
        {
            // Past a call that never returns, the rest of the operation does not run.
            return false;
        }

        if (_analysis.Site is { } site && ReferenceEquals(operation, site.EffectPoint))
        {
            return _analysis.Calls.EvaluateAcquisition(operation);
        }

        switch (operation)
        {
            case ILocalReferenceOperation local:
                return Holds(local.Local);
            case IParameterReferenceOperation parameter:
                return Holds(parameter.Parameter);
            case IFlowCaptureReferenceOperation captureReference:
                // A capture that stands for a variable or a location reads it.
                return _analysis.Variables.TryGetCapturedLocation(captureReference.Id, out var captured) ? Evaluate(captured) : Holds(captureReference.Id);
            case IFlowCaptureOperation capture:
            {
                if (_analysis.Variables.AssignedCaptures.Contains(capture.Id)
                    && TrackedVariables.Unwrap(capture.Value) is ILocalReferenceOperation or IParameterReferenceOperation or IFieldReferenceOperation or IPropertyReferenceOperation or IArrayElementReferenceOperation)
                {
                    // The graph captured a variable or a location that is assigned later ('x = a ?? b', '_field ??= b'): the
                    // capture stands for it, and an assignment to the capture is an assignment to it.
                    var location = TrackedVariables.Unwrap(capture.Value)!;
                    _analysis.Variables.CaptureLocation(capture.Id, location);
                    _analysis.Assignments.EvaluateTargetParts(location);
                    return false;
                }

                var value = Evaluate(capture.Value);
                Effects.Store(capture.Id, value, capture.Value, isCapture: true, operation);
                return false;
            }

            case ISimpleAssignmentOperation assignment:
                return _analysis.Assignments.Evaluate(assignment);
            case IConversionOperation conversion:
            {
                var value = Evaluate(conversion.Operand);
                if ((conversion.IsChecked && !conversion.ConstantValue.HasValue) || conversion.Conversion.IsUserDefined)
                {
                    // 'checked((int)rows)' throws OverflowException; a user-defined conversion is a call.
                    Effects.MayThrow(operation);
                }

                return value;
            }

            case IFieldReferenceOperation { Instance: IInstanceReferenceOperation } ownField when _analysis.OwnerFields:
                return Holds(ownField.Field);
            case IPropertyReferenceOperation { Instance: IInstanceReferenceOperation } ownProperty when _analysis.OwnerFields && OwnerWalk.IsAutoProperty(ownProperty.Property):
                return Holds(ownProperty.Property);
            case IDynamicMemberReferenceOperation dynamicMember when _analysis.OwnerFields:
                // '((dynamic)this)._connection', 'self._connection' with 'dynamic self = this': a member read by name when it
                // runs. Whatever object it is read from, one of that name that holds the connection is taken to be it.
                return EvaluateChildren(dynamicMember) | HoldsMemberNamed(dynamicMember.MemberName);
            case IDeconstructionAssignmentOperation deconstruction:
                _analysis.Assignments.EvaluateDeconstruction(deconstruction);
                return false;
            case IPropertyReferenceOperation { Property.Name: "Result", Instance: { } task } when IsTask(task.Type):
                // 'GetConnectionAsync().Result': the task's value.
                return Evaluate(task);
            case IAwaitOperation awaitOperation:
            {
                _analysis.Calls.ReleasedByLastCall = false;
                var value = Evaluate(awaitOperation.Operation);
                if (value && awaitOperation.Type is not IArrayTypeSymbol && _analysis.State.Status == ResourceStatus.Held && AwaitsTheAcquisition(awaitOperation.Operation))
                {
                    // Awaiting the task that brings the connection ('var opening = ds.OpenConnectionAsync(); ...
                    // await opening'): when the await throws, the task failed and brought none. (An awaited
                    // 'Task.WhenAll' of several, whose result is an array, can throw with some of them open.)
                    var held = _analysis.State;
                    _analysis.State = new PathState(ResourceStatus.Unacquired, HolderSet.Empty, 0, held.Flags);
                    Effects.MayThrow(operation);
                    _analysis.State = held;
                }
                else if (!_analysis.Calls.ReleasedByLastCall)
                {
                    // Like the release calls themselves, awaiting one is taken not to throw.
                    Effects.MayThrow(operation);
                }

                _analysis.Calls.ReleasedByLastCall = false;
                return value;
            }

            case IInvocationOperation { TargetMethod: { Name: "<Clone>$", Parameters.Length: 0, ContainingType.IsRecord: true }, Instance: { } original }:
                // 'record with { ... }' of a class: the graph calls the record's clone method, whose copy holds what the
                // original holds (the copy constructor copies every member); the 'with' then assigns members of the copy.
                return Evaluate(original);
            case IInvocationOperation invocation:
            {
                var end = _analysis.Rules.NoReturn.Of(invocation, _analysis);
                var isResource = _analysis.Calls.EvaluateInvocation(invocation, end);
                if (end != CallEnd.Returns)
                {
                    // 'ExceptionDispatchInfo.Capture(ex).Throw()', a '[DoesNotReturn]' helper: the path ends like a
                    // 'throw'.
                    _analysis.EndPath(invocation, end);
                    return false;
                }

                _analysis.State = _analysis.Flags.AfterCall(_analysis.State, invocation);
                return isResource;
            }

            case IObjectCreationOperation creation:
                return EvaluateCreation(creation);
            case IArgumentOperation argument:
                return Evaluate(argument.Value);
            case IIsPatternOperation isPattern:
            {
                var value = Evaluate(isPattern.Value);
                if (value)
                {
                    BindPattern(isPattern.Pattern);
                }
                else if (_analysis.State.Status == ResourceStatus.Unacquired && _analysis.Site is { Kind: AcquisitionKind.Opened } followed
                         && PatternLocal(isPattern.Pattern) is { } declared && Equals(declared, followed.Anchor))
                {
                    // 'if (connection is MySqlConnection my) my.Open();': the connection opened under the pattern's name is
                    // the object 'connection' holds too, so 'return connection;' hands it back.
                    Effects.Store(declared, false, isPattern.Value, isCapture: false, isPattern);
                }

                return false;
            }

            case IReturnOperation returnOperation:
                // 'yield return' stays an operation in the graph: the value goes to the caller.
                if (Evaluate(returnOperation.ReturnedValue))
                {
                    Effects.Escape();
                }
                else if (_analysis.State.Status == ResourceStatus.Held && _analysis.Observations is { } observations)
                {
                    // The iterator stops here with the connection held until the caller moves on or disposes the enumerator.
                    observations.HeldAcrossYield = true;
                }

                return false;
            case IDynamicInvocationOperation { Operation: IDynamicMemberReferenceOperation member }
                when _analysis.Names.ReleaseNames.Contains(member.MemberName):
                // '((dynamic)conn).Release()', 'pool.Release(conn)' on a dynamic pool: bound when it runs, and a release by its
                // name. The connection is given back (or handed to whatever the call binds to) before the call can throw, as
                // by a release the analysis sees: a binder that finds no such method is not a leak to report on every line.
                if (EvaluateChildren(operation))
                {
                    Effects.Escape();
                }

                Effects.MayThrow(operation);
                return false;
            case IDynamicInvocationOperation:
            case IDynamicObjectCreationOperation:
            case ITypeParameterObjectCreationOperation:
            {
                var any = EvaluateChildren(operation);
                Effects.MayThrow(operation);
                if (any)
                {
                    Effects.Escape();
                }

                return false;
            }

            case IInvalidOperation:
                if (EvaluateChildren(operation))
                {
                    Effects.Escape();
                }

                return false;
            case IFlowAnonymousFunctionOperation:
            case ILiteralOperation:
            case IDefaultValueOperation:
            case IInstanceReferenceOperation:
            case ITypeOfOperation:
            case ISizeOfOperation:
            case INameOfOperation:
                return false;
            case IArrayCreationOperation:
            case var collection when IsCollectionExpression(collection):
                // A collection expression ('[a, b]', a 'params' span or list the compiler builds) is an array by another name.
                if (!EvaluateChildren(operation))
                {
                    return false;
                }

                if (IsArgumentOfCall(operation))
                {
                    // 'Task.WhenAll(a, b)' (a 'params' array the compiler builds), 'Task.WhenAll(new[] { a, b })': the array
                    // exists for the call alone, so the call decides, as if it were given the resource itself: stored in a
                    // collection, taken over by a method of the code, passed through to the call's value, or left alone.
                    return true;
                }

                // Kept in a variable, a field, a return value: an array of connections is released element by element
                // elsewhere, which the analysis does not follow.
                Effects.Escape();
                return false;
            case IArrayInitializerOperation:
                return EvaluateChildren(operation);
            case ITupleOperation:
            case IAnonymousObjectCreationOperation:
                return EvaluateChildren(operation);
            case IMemberReferenceOperation { Instance: { } instance } member and (IPropertyReferenceOperation or IFieldReferenceOperation or IEventReferenceOperation):
            {
                var used = Evaluate(instance);
                if (member is IPropertyReferenceOperation property)
                {
                    foreach (var argument in property.Arguments)
                    {
                        Evaluate(argument);
                    }
                }

                if (used && IsNullableValue(instance.Type))
                {
                    // 'lease.Value' of a 'Lease?' that holds the resource: the same struct (it throws only when there
                    // is none). 'lease.HasValue' reads the wrapper, not the resource: no use of a released one either.
                    return member is IPropertyReferenceOperation { Property.Name: "Value" };
                }

                if (used && _analysis.Carriers.IsCarrier(instance.Type))
                {
                    // 'scope.Lease': the connection-typed member of a plain holder that carries the resource is the resource;
                    // its other members are not uses of it.
                    return _analysis.Carriers.IsResourceType(member.Type);
                }

                // Removing a handler ('conn.StateChange -= OnChange;' in a 'finally' after the Dispose) is cleanup, no use.
                if (used && _analysis.State.IsTrackedAfterRelease
                    && member.Parent is not IEventAssignmentOperation { Adds: false })
                {
                    _analysis.AfterRelease.UseAfterRelease(member, instance, member.Member);
                }

                return false;
            }

            case IBinaryOperation { IsChecked: true, OperatorKind: BinaryOperatorKind.Add or BinaryOperatorKind.Subtract or BinaryOperatorKind.Multiply or BinaryOperatorKind.Divide }:
            case IUnaryOperation { IsChecked: true, OperatorKind: UnaryOperatorKind.Minus }:
            case ICompoundAssignmentOperation { IsChecked: true }:
            case IIncrementOrDecrementOperation { IsChecked: true }:
                // Checked arithmetic throws OverflowException; on constants the compiler computed it ('checked(Max * 2)').
                EvaluateChildren(operation);
                if (!operation.ConstantValue.HasValue)
                {
                    Effects.MayThrow(operation);
                }

                return false;
            case ICompoundAssignmentOperation { OperatorMethod: null, Target: ILocalReferenceOperation { Local.Type.SpecialType: SpecialType.System_Boolean } } flag:
                // 'released |= true;'
                EvaluateChildren(operation);
                _analysis.State = _analysis.Flags.Compound(_analysis.State, flag);
                return false;
            case ICompoundAssignmentOperation { OperatorMethod: { } userDefined } compound when _analysis.Rules.IsInSource(userDefined):
                EvaluateOperatorOfTheCode(compound, userDefined);
                return false;
            case IPropertyReferenceOperation:
            case IFieldReferenceOperation:
            case IMethodReferenceOperation:
            case IEventReferenceOperation:
            case IArrayElementReferenceOperation:
            case IBinaryOperation:
            case IUnaryOperation:
            case IIsTypeOperation:
            case IIsNullOperation:
            case ICaughtExceptionOperation:
            case IInterpolatedStringOperation:
            case IDelegateCreationOperation:
            case ICompoundAssignmentOperation:
            case IIncrementOrDecrementOperation:
                EvaluateChildren(operation);
                return false;
            default:
                // Unknown shapes: whatever they build from the resource is taken to hold it.
                return EvaluateChildren(operation);
        }
    }

    public bool EvaluateChildren(IOperation operation)
    {
        var any = false;
        foreach (var child in operation.ChildOperations)
        {
            any |= Evaluate(child);
        }

        return any;
    }

    /// <summary>Is <paramref name="type"/> a <c>T?</c> of a value type (<c>Nullable&lt;T&gt;</c>)?</summary>
    public static bool IsNullableValue(ITypeSymbol? type) => type?.OriginalDefinition.SpecialType == SpecialType.System_Nullable_T;

    /// <summary>Is <paramref name="array"/> (through conversions) the value of an argument of a method call?</summary>
    private static bool IsArgumentOfCall(IOperation array)
    {
        var parent = array.Parent;
        while (parent is IConversionOperation { Conversion.IsUserDefined: false })
        {
            parent = parent.Parent;
        }

        return parent is IArgumentOperation { Parent: IInvocationOperation };
    }

    private bool Holds(object variable) => _analysis.Variables.Holds(_analysis.State, variable);

    /// <summary>Does a field or property named <paramref name="name"/> hold the connection on this path?</summary>
    private bool HoldsMemberNamed(string name)
    {
        foreach (var holder in _analysis.Variables.HoldersOf(_analysis.State))
        {
            if (holder is IFieldSymbol or IPropertySymbol && ((ISymbol)holder).Name == name)
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsTask(ITypeSymbol? type) =>
        type is INamedTypeSymbol { IsGenericType: true, Name: "Task" or "ValueTask", ContainingNamespace.Name: "Tasks" };

    /// <summary>
    /// Whether an awaited operand is the task of the followed acquisition itself: the call (<c>await
    /// pool.GetConnectionAsync()</c>) or a variable that keeps its task (<c>await opening</c>), through
    /// <c>ConfigureAwait</c>, <c>AsTask</c>, <c>Preserve</c> and conversions; not another call that returns the
    /// connection it was given (<c>await conn.WithTimeoutAsync(5)</c>), which can throw with it open.
    /// </summary>
    private bool AwaitsTheAcquisition(IOperation operand)
    {
        var task = TrackedVariables.Unwrap(operand);
        while (task is IInvocationOperation { TargetMethod.Name: "ConfigureAwait" or "AsTask" or "Preserve", Instance: { } adapted })
        {
            task = TrackedVariables.Unwrap(adapted);
        }

        return task is ILocalReferenceOperation or IParameterReferenceOperation or IFieldReferenceOperation
               || ReferenceEquals(task, _analysis.Site?.Invocation);
    }

    private bool EvaluateCreation(IObjectCreationOperation creation)
    {
        var argumentIsResource = false;
        var carried = false;
        foreach (var argument in creation.Arguments)
        {
            var isResource = Evaluate(argument);
            if (isResource && argument.Parameter is { } parameter && ConstructorReading.KeepsWithoutReleasing(creation, parameter.Ordinal))
            {
                // 'new Storage(existingConnection)' whose Dispose leaves the connection alone: the caller keeps it.
                continue;
            }

            argumentIsResource |= isResource;
            carried |= isResource || OwnershipMoves.CapturesResource(_analysis.Callees.CallbackTarget(argument.Value), _analysis.State, _analysis.Variables);
        }

        if (argumentIsResource && HandOffRules.IsCompletedValueTask(creation.Type))
        {
            // 'new ValueTask<T>(conn)', like 'ValueTask.FromResult(conn)': whoever receives the task receives the resource.
            return true;
        }

        if (carried && _analysis.State.Status == ResourceStatus.Held && OwnershipMoves.IsReturned(creation, _analysis.Block)
            && !HandOffRules.IsFrameworkType(creation.Type)
            && !(argumentIsResource && HandOffRules.IsOwningWrapper(creation.Type, _analysis.Names)))
        {
            // 'return new OutboxConnection(conn, tx)', 'return new Result(rows, () => conn.Dispose())': the caller receives it.
            Effects.Escape();
            Evaluate(creation.Initializer);
            return false;
        }

        // A wrapper that takes ownership is responsible for the resource from the call on, even if it throws. So is one
        // built around a callback that releases it ('using var cleanup = new ActionDisposable(() => conn.Dispose());').
        var wrapped = argumentIsResource && HandOffRules.IsOwningWrapper(creation.Type, _analysis.Names) && !OwnershipMoves.LeavesOpen(creation)
                      || carried && !argumentIsResource && _analysis.State.Status == ResourceStatus.Held
                         && HandOffRules.IsOwningWrapper(creation.Type, _analysis.Names) && ReleasingCallback(creation);

        // A plain holder of the application's own ('new TenantScope(lease, tenant)') carries the resource along with it.
        var carries = argumentIsResource && _analysis.Carriers.IsCarrier(creation.Type);
        if (wrapped && _analysis.State.Status == ResourceStatus.Released)
        {
            // A released resource given to a wrapper: the wrapper's business from here on.
            Effects.Escape();
            wrapped = false;
        }

        if (!wrapped && !ConstructorReading.OnlyStoresArguments(creation.Constructor) && !ConstructorReading.IsEmptyFrameworkObject(creation)
            && !HandOffRules.IsFrameworkValueHolder(creation.Type))
        {
            Effects.MayThrow(creation);
        }

        // Member initializers assign into the new object: handing the resource to one is a hand-off.
        Evaluate(creation.Initializer);
        return wrapped || carries;
    }

    /// <summary>
    /// <c>batch += conn</c> with an operator of the code (<c>static Batch operator +(Batch b, Connection c)</c>, or C# 14's
    /// <c>void operator +=(Connection c)</c>): the operator receives the connection as its last parameter, like a method
    /// of the code, and its body says whether it keeps or releases it; either way the caller no longer owns it.
    /// </summary>
    private void EvaluateOperatorOfTheCode(ICompoundAssignmentOperation compound, IMethodSymbol userDefined)
    {
        Evaluate(compound.Target);
        if (Evaluate(compound.Value) && _analysis.State.Status == ResourceStatus.Held && userDefined.Parameters.Length > 0
            && _analysis.Context.Summaries.EffectOn(userDefined, userDefined.Parameters.Length - 1, _analysis.Context.CancellationToken) is not ParameterEffect.None)
        {
            Effects.Escape();
        }
    }

    private bool ReleasingCallback(IObjectCreationOperation creation)
    {
        foreach (var argument in creation.Arguments)
        {
            if (_analysis.Callees.OfCallback(argument.Value) == ParameterEffect.Releases)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The local a declaration or recursive pattern names, if any.</summary>
    internal static ILocalSymbol? PatternLocal(IPatternOperation pattern) => pattern switch
    {
        IDeclarationPatternOperation { DeclaredSymbol: ILocalSymbol declared } => declared,
        IRecursivePatternOperation { DeclaredSymbol: ILocalSymbol declared } => declared,
        _ => null,
    };

    private void BindMember(IPatternOperation pattern)
    {
        if (_analysis.Carriers.IsResourceType(pattern.InputType))
        {
            BindPattern(pattern);
        }
    }

    private void BindPattern(IPatternOperation pattern)
    {
        if (pattern is INegatedPatternOperation negated)
        {
            // 'is not { } conn': the local holds the value on the side where the negation fails.
            BindPattern(negated.Pattern);
            return;
        }

        if (PatternLocal(pattern) is { } declared)
        {
            Effects.Store(declared, true, null, isCapture: false, pattern);
        }

        if (pattern is IRecursivePatternOperation recursive && _analysis.Carriers.IsCarrier(recursive.InputType))
        {
            // 'scope is (var lease, _)', 'scope is { Lease: var lease }': a local bound to a connection-typed member of
            // a holder that carries the resource is the resource, as 'scope.Lease' is.
            foreach (var element in recursive.DeconstructionSubpatterns)
            {
                BindMember(element);
            }

            foreach (var property in recursive.PropertySubpatterns)
            {
                BindMember(property.Pattern);
            }
        }
    }
}
