// Plain holder objects of the application's own that carry the followed resource: a record built around a lease
// ('new TenantScope(lease, tenant)'), a 'with' copy that is given a second lease, an object initializer or a member
// assignment that stores one in an object the method made. A variable that holds such an object holds the resource,
// the holder's connection-typed members are the resource, and its other members are not uses of it. Binding a
// command to a connection ('cmd.Connection = conn') moves nothing.
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>The holder objects that carry the resource along.</summary>
internal sealed class Carriers
{
    private readonly LeakFlowAnalysis _analysis;

    public Carriers(LeakFlowAnalysis analysis)
    {
        _analysis = analysis;
    }

    /// <summary>Is <paramref name="type"/> a connection, a lease or a reader: something released by itself?</summary>
    public bool IsResourceType(ITypeSymbol? type) =>
        type is not null && (_analysis.Rules.IsResource(type) || _analysis.Rules.IsDbConnection(type as INamedTypeSymbol));

    /// <summary>
    /// Is <paramref name="type"/> a plain holder: a class, struct, record or interface of the application's own that is
    /// neither a resource nor a wrapper that releases what it holds, or a tuple, a <c>KeyValuePair</c> or a
    /// <c>System.Tuple</c>, which only give back what they were made with?
    /// </summary>
    public bool IsCarrier(ITypeSymbol? type) =>
        type is { IsTupleType: true }
        || HandOffRules.IsFrameworkValueHolder(type)
        || type is { SpecialType: SpecialType.None, TypeKind: TypeKind.Class or TypeKind.Struct or TypeKind.Interface }
        && !HandOffRules.IsFrameworkType(type)
        && !IsResourceType(type)
        && !HandOffRules.IsOwningWrapper(type, _analysis.Names);

    /// <summary>
    /// <paramref name="member"/> of <paramref name="instance"/> is assigned the resource: when the object is one the method
    /// is building or made itself, it now carries the resource (true); a command bound to the connection takes nothing
    /// (true, no change); anything else is for the caller to treat as a hand-off (false).
    /// </summary>
    public bool StoreIntoMember(IMemberReferenceOperation member, IOperation instance, ISimpleAssignmentOperation assignment)
    {
        var type = instance.Type;
        if (HandOffRules.IsFrameworkType(type))
        {
            // 'cmd.Connection = conn', 'new MySqlCommand { Connection = conn }': the command uses the connection, it does not own it.
            return member is IPropertyReferenceOperation { Property.Name: "Connection", Property.IsIndexer: false };
        }

        if (type is not { TypeKind: TypeKind.Class or TypeKind.Struct })
        {
            return false;
        }

        switch (TrackedVariables.Unwrap(instance))
        {
            case IFlowCaptureReferenceOperation capture when assignment.Syntax.Parent is InitializerExpressionSyntax:
                // An object initializer or a 'with' copy being filled in: the new object holds the resource. The graph also
                // captures an object that an expression chooses ('(a ?? b).Lease = conn', 'holder?.Lease = conn'): that one
                // exists already, and storing into it is a hand-off like any other member assignment.
                _analysis.Effects.Store(capture.Id, true, null, isCapture: true, assignment);
                return true;
            case ILocalReferenceOperation { Local: var local } when _analysis.OwnLocals.Contains(local) && !local.IsRef && MadeHere(local):
                _analysis.Effects.Store(local, true, null, isCapture: false, assignment);
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// A copy being filled in (<c>scope with { Lease = other }</c> of a struct) gets another value in a connection-typed
    /// member: the copy no longer carries the resource through it. It keeps holding it when it is the only holder left,
    /// since which member carried it is not followed.
    /// </summary>
    public void ReplaceMember(IMemberReferenceOperation member, IOperation instance)
    {
        var state = _analysis.State;
        if (state.Status != ResourceStatus.Held || !IsResourceType(member.Type) || TrackedVariables.Unwrap(instance) is not IFlowCaptureReferenceOperation capture)
        {
            return;
        }

        var bit = _analysis.Variables.KnownBit(capture.Id);
        var others = state.Holders.Except(bit);
        if (state.Holders.Overlaps(bit) && !others.IsEmpty)
        {
            _analysis.State = state.With(others);
        }
    }

    /// <summary>
    /// Does the call receive the resource inside a holder (an argument of a carrier type that holds it)? Like a
    /// collection, the callee then keeps the holder and the resource with it.
    /// </summary>
    public bool PassesCarrier(IInvocationOperation invocation)
    {
        foreach (var argument in invocation.Arguments)
        {
            var value = TrackedVariables.Unwrap(argument.Value);
            if (value is not null && IsCarrier(value.Type) && _analysis.Variables.HeldBy(_analysis.State, value))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Is every value of <paramref name="local"/> an object the method creates?</summary>
    private bool MadeHere(ILocalSymbol local)
    {
        var values = _analysis.Origins.ValuesOf(local);
        if (values.Count == 0)
        {
            return false;
        }

        foreach (var value in values)
        {
            if (TrackedVariables.Unwrap(value) is not (IObjectCreationOperation or IWithOperation or IAnonymousObjectCreationOperation))
            {
                return false;
            }
        }

        return true;
    }
}
