// grpc.testing.TestService/UnaryCall on gRPC C++ (Debian libgrpc++-dev): the reference
// points of scripts/bench-grpc.sh. Built by that script from Debian's grpc-proto files;
// prints "cpp-test-server listening on 127.0.0.1:PORT" and serves until killed.
// Two server APIs: the synchronous one (default; a thread per call from gRPC's pool) and,
// with --callback, the callback API (reactors run on gRPC's own event engine threads, the
// faster C++ configuration).
#include <grpcpp/grpcpp.h>

#include <iostream>
#include <memory>
#include <string>

#include "grpc/testing/test.grpc.pb.h"

namespace {

class TestServiceImpl final : public grpc::testing::TestService::Service {
  grpc::Status EmptyCall(grpc::ServerContext*, const grpc::testing::Empty*, grpc::testing::Empty*) override {
    return grpc::Status::OK;
  }

  grpc::Status UnaryCall(grpc::ServerContext*, const grpc::testing::SimpleRequest* request,
                         grpc::testing::SimpleResponse* response) override {
    if (request->response_size() > 0) {
      response->mutable_payload()->set_body(std::string(static_cast<size_t>(request->response_size()), '\0'));
    }
    return grpc::Status::OK;
  }
};

class CallbackTestServiceImpl final : public grpc::testing::TestService::CallbackService {
  grpc::ServerUnaryReactor* EmptyCall(grpc::CallbackServerContext* context, const grpc::testing::Empty*,
                                      grpc::testing::Empty*) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* UnaryCall(grpc::CallbackServerContext* context, const grpc::testing::SimpleRequest* request,
                                      grpc::testing::SimpleResponse* response) override {
    if (request->response_size() > 0) {
      response->mutable_payload()->set_body(std::string(static_cast<size_t>(request->response_size()), '\0'));
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

}  // namespace

int main(int argc, char** argv) {
  const bool callback = argc > 1 && std::string(argv[1]) == "--callback";
  TestServiceImpl service;
  CallbackTestServiceImpl callbackService;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  if (callback) {
    builder.RegisterService(&callbackService);
  } else {
    builder.RegisterService(&service);
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "cpp-test-server: cannot start" << std::endl;
    return 1;
  }
  std::cout << (callback ? "callback " : "sync ") << "cpp-test-server listening on 127.0.0.1:" << port << std::endl;
  server->Wait();
  return 0;
}
