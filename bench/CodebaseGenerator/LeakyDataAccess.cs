using System;

namespace CodebaseGenerator;

/// <summary>
/// Data-access methods with exactly one connection that is not released on some path. Each template
/// records where TDG001 is expected (the acquiring invocation) and the message the contract gives.
/// </summary>
internal static class LeakyDataAccess
{
    /// <summary>The leak shapes, used in turn so that every shape appears about equally often.</summary>
    public static readonly (string Shape, Action<GenerationContext, string> Emit)[] Templates =
    {
        ("early-return-before-try", EarlyReturnBeforeTry),
        ("release-without-finally", ReleaseWithoutFinally),
        ("discarded-pool-result", DiscardedPoolResult),
        ("new-connection-closed-without-finally", NewConnectionClosedWithoutFinally),
        ("data-source-never-released", DataSourceNeverReleased),
        ("release-only-in-catch", ReleaseOnlyInCatch),
        ("acquired-in-loop-released-once", AcquiredInLoopReleasedOnce),
        ("transaction-early-return", TransactionEarlyReturn),
        ("overwritten-on-retry", OverwrittenOnRetry),
        ("release-under-condition", ReleaseUnderCondition),
        ("catch-swallows", CatchSwallows),
        ("discarded-new-connection-open", DiscardedNewConnectionOpen),
        ("second-acquisition-before-try", SecondAcquisitionBeforeTry),
        ("task-run-lambda", TaskRunLambda),
        ("empty-finally", EmptyFinally),
    };

    private static void EarlyReturnBeforeTry(GenerationContext c, string shape)
    {
        var e = c.Entity;
        var v = c.ConnectionVariable();
        var w = c.W;
        w.Line();
        w.Open($"public async Task<{e.Dto}?> {c.MethodName("Get" + e.Name + "Details")}(long id, CancellationToken cancellationToken)");
        var acquired = w.Line($"var {v} = await _pool.GetConnectionAsync(cancellationToken);");
        w.Open("if (id <= 0)");
        var returned = w.Line("return null;");
        w.Close();
        w.Line();
        w.Open("try");
        w.Line($"var row = await {v}.QueryFirstOrDefaultAsync<{e.Row}>(\"SELECT {e.SelectColumns} FROM {e.Table} WHERE id = @Id AND tenant_id = @TenantId\", new {{ Id = id, TenantId = _tenantId }});");
        w.Line($"return row is null ? null : {e.Mapping}.ToDto(row);");
        w.Close();
        w.Open("finally");
        w.Line($"{v}.Release();");
        w.Close();
        w.Close();
        c.Plant(acquired, shape, "return", GenerationContext.Returns(v, returned));
    }

    private static void ReleaseWithoutFinally(GenerationContext c, string shape)
    {
        var e = c.Entity;
        var v = c.ConnectionVariable();
        var w = c.W;
        w.Line();
        w.Open($"public int {c.MethodName("Delete" + e.Name, "")}(long id)");
        var acquired = w.Line($"var {v} = _pool.GetConnection();");
        var throws = w.Line($"var affected = {v}.Execute(\"DELETE FROM {e.Table} WHERE id = @Id AND tenant_id = @TenantId\", new {{ Id = id, TenantId = _tenantId }});");
        w.Line($"{v}.Release();");
        w.Line("return affected;");
        w.Close();
        c.Plant(acquired, shape, "exception", GenerationContext.Throws(v, throws));
    }

    private static void DiscardedPoolResult(GenerationContext c, string shape)
    {
        var e = c.Entity;
        var w = c.W;
        w.Line();
        if (c.Random.Next(2) == 0)
        {
            w.Open($"public void {c.MethodName("Prefetch" + e.Name + "Connection", "")}()");
            w.Open("if (_pool.IdleCount > 0)");
            w.Line("return;");
            w.Close();
            w.Line();
            var acquired = w.Line("_pool.GetConnection();");
            w.Close();
            c.Plant(acquired, shape, "discarded", GenerationContext.Discarded("GetConnection"));
        }
        else
        {
            w.Open($"public async Task {c.MethodName("WarmUp" + e.Name + "Pool")}(CancellationToken cancellationToken)");
            w.Open("if (_pool.IdleCount > 0)");
            w.Line("return;");
            w.Close();
            w.Line();
            var acquired = w.Line("await _pool.GetConnectionAsync(cancellationToken);");
            w.Close();
            c.Plant(acquired, shape, "discarded", GenerationContext.Discarded("GetConnectionAsync"));
        }
    }

    private static void NewConnectionClosedWithoutFinally(GenerationContext c, string shape)
    {
        var e = c.Entity;
        var v = c.ConnectionVariable();
        var w = c.W;
        w.Line();
        w.Open($"public async Task<IReadOnlyList<{e.Row}>> {c.MethodName("Export" + e.Plural)}(DateTime since, CancellationToken cancellationToken)");
        w.Line($"var {v} = new MySqlConnection(_connectionString);");
        var acquired = w.Line($"await {v}.OpenAsync(cancellationToken);");
        var throws = w.Line($"var rows = await {v}.QueryAsync<{e.Row}>(\"SELECT {e.SelectColumns} FROM {e.Table} WHERE tenant_id = @TenantId AND created_at >= @Since\", new {{ TenantId = _tenantId, Since = since }});");
        w.Line($"await {v}.CloseAsync();");
        w.Line("return rows.AsList();");
        w.Close();
        c.Plant(acquired, shape, "exception", GenerationContext.Throws(v, throws));
    }

    private static void DataSourceNeverReleased(GenerationContext c, string shape)
    {
        var e = c.Entity;
        var v = c.ConnectionVariable();
        var w = c.W;
        w.Line();
        w.Open($"public async Task<int> {c.MethodName("Purge" + e.Name + "Drafts")}(CancellationToken cancellationToken)");
        var acquired = w.Line($"var {v} = await _dataSource.OpenConnectionAsync(cancellationToken);");
        var returned = w.Line($"return await {v}.ExecuteAsync(\"DELETE FROM {e.Table} WHERE tenant_id = @TenantId AND status = 0\", new {{ TenantId = _tenantId }});");
        w.Close();
        c.Plant(acquired, shape, "return", GenerationContext.Returns(v, returned));
    }

    private static void ReleaseOnlyInCatch(GenerationContext c, string shape)
    {
        var e = c.Entity;
        var v = c.ConnectionVariable();
        var w = c.W;
        w.Line();
        w.Open($"public IReadOnlyList<{e.Row}> {c.MethodName("List" + e.Plural + "CreatedAfter", "")}(DateTime since)");
        var acquired = w.Line($"var {v} = _pool.GetConnection();");
        w.Open("try");
        var returned = w.Line($"return {v}.Query<{e.Row}>(\"SELECT {e.SelectColumns} FROM {e.Table} WHERE tenant_id = @TenantId AND created_at > @Since\", new {{ TenantId = _tenantId, Since = since }}).AsList();");
        w.Close();
        w.Open("catch (MySqlException)");
        w.Line($"{v}.Release();");
        w.Line("throw;");
        w.Close();
        w.Close();
        c.Plant(acquired, shape, "return", GenerationContext.Returns(v, returned));
    }

    private static void AcquiredInLoopReleasedOnce(GenerationContext c, string shape)
    {
        var e = c.Entity;
        var v = c.ConnectionVariable();
        var w = c.W;
        w.Line();
        w.Open($"public void {c.MethodName("Delete" + e.Name + "Batch", "")}(IEnumerable<long> ids)");
        w.Line($"PooledConnection? {v} = null;");
        w.Open("foreach (var id in ids)");
        var acquired = w.Line($"{v} = _pool.GetConnection();");
        w.Line($"{v}.Execute(\"DELETE FROM {e.Table} WHERE id = @Id AND tenant_id = @TenantId\", new {{ Id = id, TenantId = _tenantId }});");
        w.Close();
        w.Line();
        w.Line($"{v}?.Release();");
        w.Close();
        c.Plant(acquired, shape, "acquired-again", GenerationContext.AcquiredAgain(v, acquired));
    }

    private static void TransactionEarlyReturn(GenerationContext c, string shape)
    {
        var e = c.Entity;
        var v = c.ConnectionVariable();
        var w = c.W;
        w.Line();
        w.Open($"public async Task<bool> {c.MethodName("Approve" + e.Name)}({e.Dto} dto, CancellationToken cancellationToken)");
        var acquired = w.Line($"var {v} = await _dataSource.OpenConnectionAsync(cancellationToken);");
        w.Line($"var transaction = await {v}.BeginTransactionAsync(cancellationToken);");
        w.Open("if (dto.Amount < 0)");
        var returned = w.Line("return false;");
        w.Close();
        w.Line();
        w.Line($"await {v}.ExecuteAsync(\"UPDATE {e.Table} SET status = 1 WHERE id = @Id AND tenant_id = @TenantId\", new {{ dto.Id, TenantId = _tenantId }}, transaction);");
        w.Line("await transaction.CommitAsync(cancellationToken);");
        w.Line("await transaction.DisposeAsync();");
        w.Line($"await {v}.DisposeAsync();");
        w.Line("return true;");
        w.Close();
        c.Plant(acquired, shape, "return", GenerationContext.Returns(v, returned));
    }

    private static void OverwrittenOnRetry(GenerationContext c, string shape)
    {
        var e = c.Entity;
        var v = c.ConnectionVariable();
        var w = c.W;
        w.Line();
        w.Open($"public int {c.MethodName("Recalculate" + e.Name + "Totals", "")}()");
        var acquired = w.Line($"var {v} = _pool.GetConnection();");
        w.Open($"if (!{v}.Inner.Ping())");
        var overwritten = w.Line($"{v} = _pool.GetConnection();");
        w.Close();
        w.Line();
        w.Open("try");
        w.Line($"return {v}.Execute(\"CALL recalculate_{EntityModel.ToSnakeCase(e.Name)}_totals(@TenantId)\", new {{ TenantId = _tenantId }});");
        w.Close();
        w.Open("finally");
        w.Line($"{v}.Release();");
        w.Close();
        w.Close();
        c.Plant(acquired, shape, "overwritten", GenerationContext.Overwritten(v, overwritten));
    }

    private static void ReleaseUnderCondition(GenerationContext c, string shape)
    {
        var e = c.Entity;
        var v = c.ConnectionVariable();
        var w = c.W;
        w.Line();
        w.Open($"public int {c.MethodName("Reopen" + e.Plural, "")}()");
        w.Line("var affected = 0;");
        var acquired = w.Line($"var {v} = _pool.GetConnection();");
        w.Open("try");
        w.Line($"affected = {v}.Execute(\"UPDATE {e.Table} SET status = 1 WHERE tenant_id = @TenantId AND status = 3\", new {{ TenantId = _tenantId }});");
        w.Close();
        w.Open("finally");
        w.Open("if (affected > 0)");
        w.Line($"{v}.Release();");
        w.Close();
        w.Close();
        w.Line();
        var returned = w.Line("return affected;");
        w.Close();
        c.Plant(acquired, shape, "return", GenerationContext.Returns(v, returned));
    }

    private static void CatchSwallows(GenerationContext c, string shape)
    {
        var e = c.Entity;
        var v = c.ConnectionVariable();
        var w = c.W;
        w.Line();
        w.Open($"public int {c.MethodName("Mark" + e.Name + "Exported", "")}(long id)");
        var acquired = w.Line($"var {v} = _pool.GetConnection();");
        w.Open("try");
        w.Line($"var affected = {v}.Execute(\"UPDATE {e.Table} SET exported_at = UTC_TIMESTAMP() WHERE id = @Id AND tenant_id = @TenantId\", new {{ Id = id, TenantId = _tenantId }});");
        w.Line($"{v}.Release();");
        w.Line("return affected;");
        w.Close();
        w.Open("catch (MySqlException)");
        var returned = w.Line("return -1;");
        w.Close();
        w.Close();
        c.Plant(acquired, shape, "return", GenerationContext.Returns(v, returned));
    }

    private static void DiscardedNewConnectionOpen(GenerationContext c, string shape)
    {
        var e = c.Entity;
        var w = c.W;
        w.Line();
        w.Open($"public async Task {c.MethodName("Check" + e.Name + "StoreReachable")}(CancellationToken cancellationToken)");
        var acquired = w.Line("await new MySqlConnection(_connectionString).OpenAsync(cancellationToken);");
        w.Close();
        c.Plant(acquired, shape, "discarded", null);
    }

    private static void SecondAcquisitionBeforeTry(GenerationContext c, string shape)
    {
        var e = c.Entity;
        var w = c.W;
        w.Line();
        w.Open($"public void {c.MethodName("Copy" + e.Name + "ToArchive", "")}(long id)");
        var acquired = w.Line("var source = _pool.GetConnection();");
        var throws = w.Line("var target = _pool.GetConnection();");
        w.Open("try");
        w.Line($"var row = source.Query<{e.Row}>(\"SELECT {e.SelectColumns} FROM {e.Table} WHERE id = @Id AND tenant_id = @TenantId\", new {{ Id = id, TenantId = _tenantId }}).FirstOrDefault();");
        w.Open("if (row is not null)");
        w.Line($"target.Execute(\"INSERT INTO {e.Table}_archive (id, tenant_id, name, amount, status) VALUES (@Id, @TenantId, @Name, @Amount, @Status)\", row);");
        w.Close();
        w.Close();
        w.Open("finally");
        w.Line("target.Release();");
        w.Line("source.Release();");
        w.Close();
        w.Close();
        c.Plant(acquired, shape, "exception", GenerationContext.Throws("source", throws));
    }

    private static void TaskRunLambda(GenerationContext c, string shape)
    {
        var e = c.Entity;
        var v = c.ConnectionVariable();
        var w = c.W;
        w.Line();
        w.Open($"public Task {c.MethodName("Rebuild" + e.Name + "SearchIndex")}()");
        w.Line("return Task.Run(() =>");
        w.Line("{");
        var acquired = w.Line($"    var {v} = _pool.GetConnection();");
        var throws = w.Line($"    {v}.Execute(\"CALL rebuild_{EntityModel.ToSnakeCase(e.Name)}_search_index(@TenantId)\", new {{ TenantId = _tenantId }});");
        w.Line($"    {v}.Release();");
        w.Line("});");
        w.Close();
        c.Plant(acquired, shape, "exception", GenerationContext.Throws(v, throws));
    }

    private static void EmptyFinally(GenerationContext c, string shape)
    {
        var e = c.Entity;
        var v = c.ConnectionVariable();
        var w = c.W;
        w.Line();
        w.Open($"public async Task<int> {c.MethodName("Count" + e.Name + "Drafts")}(CancellationToken cancellationToken)");
        var acquired = w.Line($"var {v} = await _pool.GetConnectionAsync(cancellationToken);");
        w.Open("try");
        var returned = w.Line($"return await {v}.ExecuteScalarAsync<int>(\"SELECT COUNT(*) FROM {e.Table} WHERE tenant_id = @TenantId AND status = 0\", new {{ TenantId = _tenantId }});");
        w.Close();
        w.Open("finally");
        w.Line("// The pool reclaims idle connections.");
        w.Close();
        w.Close();
        c.Plant(acquired, shape, "return", GenerationContext.Returns(v, returned));
    }
}
