package main

import "github.com/docker-logs/docker_logs/engine"

// instances are the docker_logs inputs of this Fluent Bit process.
var instances engine.Registry

func initInstance(g propertyGetter, hasCtx bool) (uintptr, error) { return instances.Init(g, hasCtx) }
